import { keyOf, layout } from '../vault/layout.js';
import type { SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';

/**
 * The handshake between a prune and a restore being requested, so that a restore never reads a snapshot that is
 * being deleted.
 *
 * Downloads (MBOX or ZIP exports) read a snapshot for as long as a restore does and take part the same way:
 * what is said here of a restore's request holds for a download's (`downloads/{id}/request.json`, running until
 * its report is written).
 *
 * INVARIANT: once a restore is accepted (its request written and its check passed), no prune deletes its
 * snapshot, nor therefore any version the snapshot references, until the restore has ended (its report or its
 * cancel is written), however long it runs; the first prune after that may.
 *
 * Each side writes, then reads what the other side writes:
 * - a restore writes its request naming the snapshot, then reads the snapshot's expiring mark, then its record;
 *   it is refused (and withdraws its request) when the mark is there or the record is gone;
 * - a prune (holding the mailbox's lease) marks each snapshot the policy expires, then reads the running
 *   restores, deletes only marked snapshots none of them names, and clears the marks after those deletes.
 *
 * Why it holds. Blob storage is strongly consistent: a read sees every write that landed before it. Say a
 * prune deletes snapshot S that an accepted restore names. The prune's read of the restores missed the request,
 * so the request landed after it, hence after the mark. The restore read the mark after its request: it found
 * no mark, so the read came after the marks were cleared, hence after S's record was deleted; and the restore
 * read the record after that, found nothing and was refused. A contradiction. Both sides may see each other
 * (the restore refused, the snapshot kept one more night): that loses nothing.
 *
 * A prune that dies between marking and clearing leaves marks: restores of those snapshots (the policy expires
 * them already) are refused until the next prune of the mailbox, which clears every mark when it is done.
 */

/** `mailboxes/{key}/state/expiring/{snapshotId}.json`: a prune is deleting that snapshot. */
export function expiringMark(mailboxKey: string, snapshotId: string): string {
  return `${expiringPrefix(mailboxKey)}${snapshotId}.json`;
}

function expiringPrefix(mailboxKey: string): string {
  return `${layout.byKey.mailbox(mailboxKey)}state/expiring/`;
}

/**
 * The prune's half: marks the snapshots to expire, then reads the running restores. Returns those to delete
 * (none a restore names) and those kept because a restore requested meanwhile names them.
 */
export async function markThenCheckRestores(
  vault: VaultStore,
  mailboxKey: string,
  expired: SnapshotRecord[],
): Promise<{ expire: SnapshotRecord[]; keptForRestores: string[] }> {
  if (expired.length === 0) return { expire: [], keptForRestores: [] };
  for (const snapshot of expired)
    await vault.writeJson(expiringMark(mailboxKey, snapshot.snapshotId), { snapshotId: snapshot.snapshotId });
  const named = new Set((await findSnapshotReadsInProgress(vault)).get(mailboxKey) ?? []);
  return {
    expire: expired.filter((s) => !named.has(s.snapshotId)),
    keptForRestores: expired.filter((s) => named.has(s.snapshotId)).map((s) => s.snapshotId),
  };
}

/** The prune's last step of the handshake, after its snapshot deletes: every mark of the mailbox goes. */
export async function clearExpiringMarks(vault: VaultStore, mailboxKey: string): Promise<void> {
  for await (const name of vault.listNames(expiringPrefix(mailboxKey))) await vault.deleteBlob(name);
}

/**
 * A reader's half (a restore's or a download's): writes its request, which keeps the snapshot from pruning until
 * the reader ends, then checks the snapshot is still kept. When a prune got there first the request is withdrawn
 * (it would keep nothing alive) and the answer is false: refuse the reader.
 */
export async function recordSnapshotRead(
  vault: VaultStore,
  requestBlob: string,
  request: object,
  source: { mailboxId: string; snapshotId: string },
): Promise<boolean> {
  await vault.writeJson(requestBlob, request, { onlyIfAbsent: true });
  if (await snapshotStillKept(vault, source.mailboxId, source.snapshotId)) return true;
  await vault.deleteBlob(requestBlob);
  return false;
}

/**
 * The restore's half, called after its request is written: whether the snapshot is still kept. The mark is read
 * before the record (a prune deletes the record before it clears the mark), so one of the two reads sees the prune.
 */
export async function snapshotStillKept(vault: VaultStore, mailboxId: string, snapshotId: string): Promise<boolean> {
  if ((await vault.readJson(expiringMark(keyOf(mailboxId), snapshotId))) !== undefined) return false;
  return (await vault.readJson(layout.snapshotRecord(mailboxId, snapshotId))) !== undefined;
}

/**
 * Snapshots that running restores read, by mailbox key: kept whatever the policy says. A restore is running
 * until its report or its cancel is written; none is guessed abandoned by age (keeping a snapshot too long loses
 * nothing).
 */
export async function findRestoresInProgress(vault: VaultStore): Promise<Map<string, string[]>> {
  const protectedSnapshots = new Map<string, string[]>();
  for await (const prefix of vault.listPrefixes('restores/')) {
    const restoreId = prefix.slice('restores/'.length, -1);
    const request = await vault.readJson<{ requestedAt: string; source: { mailboxId: string; snapshotId: string } }>(
      layout.restoreRequest(restoreId),
    );
    if (!request) continue;
    if (
      (await vault.readJson(layout.restoreReport(restoreId))) ||
      (await vault.readJson(layout.restoreCanceled(restoreId)))
    )
      continue;
    const key = keyOf(request.source.mailboxId);
    protectedSnapshots.set(key, [...(protectedSnapshots.get(key) ?? []), request.source.snapshotId]);
  }
  return protectedSnapshots;
}

/** Snapshots that running downloads (MBOX or ZIP exports) read, by mailbox key: running until their report. */
export async function findDownloadsInProgress(vault: VaultStore): Promise<Map<string, string[]>> {
  const protectedSnapshots = new Map<string, string[]>();
  for await (const prefix of vault.listPrefixes('downloads/')) {
    const downloadId = prefix.slice('downloads/'.length, -1);
    const request = await vault.readJson<{ source: { mailboxId: string; snapshotId: string } }>(
      layout.downloadRequest(downloadId),
    );
    if (!request || (await vault.readJson(layout.downloadReport(downloadId)))) continue;
    const key = keyOf(request.source.mailboxId);
    protectedSnapshots.set(key, [...(protectedSnapshots.get(key) ?? []), request.source.snapshotId]);
  }
  return protectedSnapshots;
}

/** Every snapshot a running restore or download reads, by mailbox key: what a prune must keep. */
export async function findSnapshotReadsInProgress(vault: VaultStore): Promise<Map<string, string[]>> {
  const reads = await findRestoresInProgress(vault);
  for (const [key, snapshots] of await findDownloadsInProgress(vault))
    reads.set(key, [...(reads.get(key) ?? []), ...snapshots]);
  return reads;
}
