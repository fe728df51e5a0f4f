import { keyOf, layout } from '../vault/layout.js';
import type { SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { deleteReaderMarker, findMailboxReads, writeReaderMarker } from './readerMarkers.js';
import {
  READER_START_WINDOW_IN_MS,
  type AbandonedRead,
  type AbandonedReadCheck,
  type ReaderKind,
} from './snapshotReads.js';

export {
  ABANDONED_AFTER_DEADLINE_IN_MS,
  findDownloadsInProgress,
  findRestoresInProgress,
  findSnapshotReadsInProgress,
  READER_START_WINDOW_IN_MS,
  type AbandonedRead,
  type AbandonedReadCheck,
  type OrchestrationExists,
  type SnapshotReads,
} from './snapshotReads.js';

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
 * A prune reads only its own mailbox's readers: each reader also writes a marker, `mailboxes/{key}/state/
 * readers/{id}.json` (readerMarkers.ts), and the prune lists that folder, then reads each marker's request and
 * whether it has ended. Each side writes, then reads what the other side writes:
 * - a restore writes its request naming the snapshot, then its marker, then reads the snapshot's expiring mark,
 *   then its record; it is refused (and withdraws its request, then its marker) when the mark is there or the
 *   record is gone;
 * - a prune (holding the mailbox's lease) marks each snapshot the policy expires, then lists the mailbox's
 *   markers, deletes only marked snapshots no running reader among them names, and clears the marks after
 *   those deletes.
 *
 * Why it holds. Blob storage is strongly consistent: a read sees every write that landed before it (a listing
 * too). Say a prune deletes snapshot S that an accepted restore names. Either the prune judged the restore's
 * marker to protect nothing, or its listing missed the marker. The first needs the restore's report or cancel
 * (it has ended), its request gone (a request goes only when withdrawn, or with the folder of a reader that has
 * ended or never started, a week later: maintenance/artifacts.ts; and it is written before the marker), or the request abandoned (below). In
 * the second, the marker landed after the listing, hence after the mark. The restore read the mark after its
 * marker: it found no mark, so the read came after the marks were cleared, hence after S's record was deleted;
 * and the restore read the record after that, found nothing and was refused. A contradiction. Both sides may see
 * each other (the restore refused, the snapshot kept one more night): that loses nothing.
 *
 * Requests written before markers were (or, during a deployment, by old instances) have no marker. Until the
 * vault's backfill is complete (`state/reader-markers.json`, readerMarkers.ts), a prune reads every request of
 * the vault instead of markers, and the argument above holds with "request" for "marker". Completing the
 * backfill takes two maintenance runs at least an hour apart, each writing a marker for every running request
 * without one: the one window left is a request accepted by an old instance still running more than an hour
 * after the first of those runs began, after the second listed its folder. It would keep its snapshot from no
 * prune. Finish a deployment's swap before a maintenance run to leave no old instance at all.
 *
 * A prune that dies between marking and clearing leaves marks: restores of those snapshots (the policy expires
 * them already) are refused until the next prune of the mailbox, which clears every mark when it is done.
 *
 * A request whose orchestration never started (the trigger died between writing it and starting the restore)
 * would keep its snapshot for ever. The request carries a start deadline (`startBy`, READER_START_WINDOW_IN_MS
 * after it is written), and its trigger starts no orchestration after it (`startsInTime`). A prune whose clock
 * is ABANDONED_AFTER_DEADLINE_IN_MS past that deadline asks Durable whether the orchestration exists: if not, the
 * request is abandoned, protects nothing, and the prune's result names it. The margin covers a start already
 * sent when the deadline passed and clocks that differ, so a restore that did start is never taken for abandoned.
 * The prune deletes the markers that protect nothing (but abandoned ones, which it names each night, as it
 * names their requests, until maintenance deletes the request with the rest of its folder past the policy's
 * horizon: maintenance/artifacts.ts).
 */

/** `mailboxes/{key}/state/expiring/{snapshotId}.json`: a prune is deleting that snapshot. */
export function expiringMark(mailboxKey: string, snapshotId: string): string {
  return `${expiringPrefix(mailboxKey)}${snapshotId}.json`;
}

function expiringPrefix(mailboxKey: string): string {
  return `${layout.byKey.mailbox(mailboxKey)}state/expiring/`;
}

/**
 * The prune's half: marks the snapshots to expire, then reads the mailbox's running readers. Returns those to delete
 * (none a restore names) and those kept because a restore requested meanwhile names them.
 */
export async function markThenCheckRestores(
  vault: VaultStore,
  mailboxKey: string,
  expired: SnapshotRecord[],
  check?: AbandonedReadCheck,
): Promise<{ expire: SnapshotRecord[]; keptForRestores: string[]; abandoned: AbandonedRead[] }> {
  if (expired.length === 0) return { expire: [], keptForRestores: [], abandoned: [] };
  for (const snapshot of expired)
    await vault.writeJson(expiringMark(mailboxKey, snapshot.snapshotId), { snapshotId: snapshot.snapshotId });
  const reads = await findMailboxReads(vault, mailboxKey, check, { clearEnded: true });
  const named = new Set(reads.inProgress.get(mailboxKey) ?? []);
  return {
    expire: expired.filter((s) => !named.has(s.snapshotId)),
    keptForRestores: expired.filter((s) => named.has(s.snapshotId)).map((s) => s.snapshotId),
    abandoned: reads.abandoned,
  };
}

/** The prune's last step of the handshake, after its snapshot deletes: every mark of the mailbox goes. */
export async function clearExpiringMarks(vault: VaultStore, mailboxKey: string): Promise<void> {
  for await (const name of vault.listNames(expiringPrefix(mailboxKey))) await vault.deleteBlob(name);
}

/**
 * A reader's half (a restore's or a download's): writes its request with its start deadline, then its marker in
 * the mailbox's folder, which keep the snapshot from pruning until the reader ends, then checks the snapshot is
 * still kept. Returns the deadline (start the orchestration only while `startsInTime` says so). When a prune got
 * there first the request and marker are withdrawn (they would keep nothing alive) and the answer is null:
 * refuse the reader.
 */
export async function recordSnapshotRead(
  vault: VaultStore,
  reader: { kind: ReaderKind; id: string },
  request: object,
  source: { mailboxId: string; snapshotId: string },
  now: Date = new Date(),
): Promise<string | null> {
  const startBy = new Date(now.getTime() + READER_START_WINDOW_IN_MS).toISOString();
  const requestBlob = reader.kind === 'restore' ? layout.restoreRequest(reader.id) : layout.downloadRequest(reader.id);
  await vault.writeJson(requestBlob, { ...request, startBy }, { onlyIfAbsent: true });
  await writeReaderMarker(vault, source.mailboxId, { ...reader, snapshotId: source.snapshotId, startBy });
  if (await snapshotStillKept(vault, source.mailboxId, source.snapshotId)) return startBy;
  await withdrawSnapshotRead(vault, reader, source.mailboxId);
  return null;
}

/** Deletes a reader's request, then its marker: a reader never started protects no snapshot from pruning. */
export async function withdrawSnapshotRead(
  vault: VaultStore,
  reader: { kind: ReaderKind; id: string },
  mailboxId: string,
): Promise<void> {
  await vault.deleteBlob(
    reader.kind === 'restore' ? layout.restoreRequest(reader.id) : layout.downloadRequest(reader.id),
  );
  await deleteReaderMarker(vault, mailboxId, reader.id);
}

/** Whether a reader's orchestration may still be started: its request's deadline has not passed. */
export function startsInTime(startBy: string, now: Date = new Date()): boolean {
  return now.getTime() < Date.parse(startBy);
}

/**
 * The restore's half, called after its request is written: whether the snapshot is still kept. The mark is read
 * before the record (a prune deletes the record before it clears the mark), so one of the two reads sees the prune.
 */
export async function snapshotStillKept(vault: VaultStore, mailboxId: string, snapshotId: string): Promise<boolean> {
  if ((await vault.readJson(expiringMark(keyOf(mailboxId), snapshotId))) !== undefined) return false;
  return (await vault.readJson(layout.snapshotRecord(mailboxId, snapshotId))) !== undefined;
}
