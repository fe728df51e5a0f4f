import type { MaintenanceInput } from '../../functions/contracts.js';
import type { RunReport } from '../../shared/backup/types.js';
import { backfillReaderMarkers, READER_MARKERS_SETTLE_IN_MS } from '../../shared/maintenance/readerMarkers.js';
import { verifyMailbox } from '../../shared/maintenance/verify.js';
import type { RestoreReport } from '../../shared/restore/types.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import type { ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { listSnapshots, readManifest } from '../../shared/vault/snapshotCatalog.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import type { Stack } from './stack.js';

/**
 * The invariants the integrity tests (crash everywhere, concurrency) check after every run: every committed
 * snapshot verifies in full, every source item is in the newest snapshot or named in its run's report, and
 * every restore target holds each selected item exactly once (by search key and by content digest) unless the
 * restore's report names it.
 */

/** Starts a backup, restore or maintenance through the API, retrying while the app answers 5xx (a crashed worker). */
export async function startThroughApi(stack: Stack, path: string, body: unknown): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const started = await stack.api('POST', path, body);
    if (started.status === 202) return started.body.id as string;
    if (started.status < 500 || attempt >= 3)
      throw new Error(`POST ${path}: ${started.status} ${JSON.stringify(started.body)}`);
  }
}

/**
 * Completes the vault's reader-marker backfill as two maintenance runs an hour apart would (an hour ago and now):
 * from then on its prunes read their own mailbox's markers only, not every request of the vault.
 */
export async function readerMarkersOnly(vault: VaultStore): Promise<void> {
  await backfillReaderMarkers(vault, new Date(Date.now() - READER_MARKERS_SETTLE_IN_MS));
  await backfillReaderMarkers(vault, new Date());
}

/** Nightly maintenance, a day after now so every snapshot but the newest has expired (retention all zero). */
export function maintenanceInput(id: string, mailboxKeys: string[] | null = null): MaintenanceInput {
  return {
    id,
    trigger: 'timer',
    startedAt: new Date(Date.now() + 86_400_000).toISOString(),
    prune: { dryRun: false },
    verify: null,
    mailboxKeys,
  };
}

export const ZERO_RETENTION = {
  MAILBOX_VAULT_RETENTION_KEEP_ALL_DAYS: '0',
  MAILBOX_VAULT_RETENTION_DAILY_DAYS: '0',
  MAILBOX_VAULT_RETENTION_WEEKLY_WEEKS: '0',
  MAILBOX_VAULT_RETENTION_MONTHLY_MONTHS: '0',
};

/** What a `watchSnapshotDeletes` saw: each deleted snapshot, and any deleted while an accepted restore read it. */
export interface SnapshotDeletes {
  /** The deleted snapshots' records and items, by `snapshotKey`, as they were just before the delete. */
  deleted: Map<string, { record: SnapshotRecord; items: ManifestItem[] }>;
  /** Restores (id, snapshot) still running (no report, no cancel) when a prune deleted the snapshot they read. */
  readWhileDeleted: Array<{ restoreId: string; snapshotId: string }>;
  stop(): void;
}

/**
 * Holds each snapshot-record delete (a prune expiring a snapshot) while it keeps the snapshot's items and notes
 * every restore whose request names it and which has not ended. A restore that ended before the prune may lose
 * its snapshot; the kept items still tell what it restored. Only the prune deletes snapshot records.
 */
export function watchSnapshotDeletes(stack: Stack): SnapshotDeletes {
  const watch: SnapshotDeletes = { deleted: new Map(), readWhileDeleted: [], stop: () => setVaultWriteHook(undefined) };
  const recordName = /^mailboxes\/[^/]+\/snapshots\/[^/]+\.json$/;
  setVaultWriteHook((write, phase) => {
    if (write.op !== 'delete' || phase !== 'before' || !recordName.test(write.blobName)) return undefined;
    return (async () => {
      const record = await stack.vault.readJson<SnapshotRecord>(write.blobName);
      if (!record) return;
      watch.deleted.set(snapshotKey(record), { record, items: await manifestItems(stack, record) });
      for (const restoreId of await restoresStillReading(stack, record))
        watch.readWhileDeleted.push({ restoreId, snapshotId: record.snapshotId });
    })();
  });
  return watch;
}

/** A snapshot's key across mailboxes (one run's snapshots share their id). */
export function snapshotKey(source: { mailboxId: string; snapshotId: string }): string {
  return `${keyOf(source.mailboxId)}/${source.snapshotId}`;
}

async function restoresStillReading(stack: Stack, snapshot: SnapshotRecord): Promise<string[]> {
  const reading: string[] = [];
  for await (const prefix of stack.vault.listPrefixes('restores/')) {
    const restoreId = prefix.slice('restores/'.length, -1);
    type Request = { source: { mailboxId: string; snapshotId: string } };
    const request = await stack.vault.readJson<Request>(layout.restoreRequest(restoreId));
    if (!request || snapshotKey(request.source) !== snapshotKey(snapshot)) continue;
    const ended =
      (await stack.vault.readJson(layout.restoreReport(restoreId))) !== undefined ||
      (await stack.vault.readJson(layout.restoreCanceled(restoreId))) !== undefined;
    if (!ended) reading.push(restoreId);
  }
  return reading;
}

/** Every mailbox of the vault, every committed snapshot: a full verify, its problems (none expected). */
export async function verifyWholeVault(stack: Stack): Promise<string[]> {
  const problems: string[] = [];
  for await (const prefix of stack.vault.listPrefixes('mailboxes/')) {
    const mailboxKey = prefix.slice('mailboxes/'.length, -1);
    const result = await verifyMailbox(stack.vault, { mailboxKey, mode: 'full', sample: 0, seed: 'integrity' });
    for (const p of result.problems) problems.push(`${mailboxKey}: ${JSON.stringify(p)}`);
  }
  return problems;
}

export async function manifestItems(stack: Stack, snapshot: SnapshotRecord): Promise<ManifestItem[]> {
  const items: ManifestItem[] = [];
  for await (const entry of readManifest(stack.vault, snapshot)) if (entry.kind === 'item') items.push(entry);
  return items;
}

/**
 * The newest snapshot of a mailbox holds each of its items as they are now (same version, same bytes), or its
 * run's report names the item as failed. Returns what is neither, and the snapshot.
 */
export async function unaccountedSourceItems(
  stack: Stack,
  upn: string,
): Promise<{ missing: string[]; snapshot: SnapshotRecord | undefined }> {
  const mailbox = stack.sim.tenant.mailbox(upn);
  const snapshot = (await listSnapshots(stack.vault, mailbox.id))[0];
  if (!snapshot) return { missing: [...mailbox.items.keys()].map((id) => `${id}: no snapshot`), snapshot };
  const stored = new Map((await manifestItems(stack, snapshot)).map((item) => [item.id, item]));
  const report = await stack.vault.readJson<RunReport>(layout.runReport(snapshot.runId));
  const named = new Set(report?.mailboxes.flatMap((m) => m.failures.map((f) => f.itemId)) ?? []);
  const missing: string[] = [];
  for (const item of mailbox.items.values()) {
    const entry = stored.get(item.id);
    if (named.has(item.id)) continue;
    if (!entry) missing.push(`${item.id}: not in ${snapshot.snapshotId}`);
    else if (entry.stale || entry.sha256 !== stack.sim.tenant.digest(item))
      missing.push(`${item.id}: ${snapshot.snapshotId} holds another version`);
  }
  for (const id of stored.keys())
    if (!mailbox.items.has(id)) missing.push(`${id}: in ${snapshot.snapshotId} but deleted from the mailbox`);
  return { missing, snapshot };
}

/**
 * A restore target holds each item of the snapshots restored into it exactly once, matched by search key and by
 * the digest of the bytes the vault recorded, except items the restore reports name; and nothing else.
 */
export async function restoreTargetProblems(
  stack: Stack,
  targetUpn: string,
  snapshots: SnapshotRecord[],
  reports: RestoreReport[],
  deletes?: SnapshotDeletes,
): Promise<string[]> {
  const copies = new Map<string, number>();
  for (const item of stack.sim.tenant.mailbox(targetUpn).items.values()) {
    const key = `${item.spec.searchKey.toString('base64')} ${item.importedDigest}`;
    copies.set(key, (copies.get(key) ?? 0) + 1);
  }
  const named = new Set(reports.flatMap((r) => r.failures.map((f) => f.sourceItemId)));
  const problems: string[] = [];
  for (const { restoreId, counts } of reports)
    if (counts.imported + counts.skippedAlreadyPresent + counts.failed !== counts.selected)
      problems.push(`${restoreId}: its counts do not add up: ${JSON.stringify(counts)}`);
  const restored = new Map<string, ManifestItem>();
  for (const snapshot of snapshots)
    for (const item of deletes?.deleted.get(snapshotKey(snapshot))?.items ?? (await manifestItems(stack, snapshot)))
      restored.set(`${item.searchKey} ${item.sha256}`, item);
  for (const item of restored.values()) {
    const key = `${item.searchKey} ${item.sha256}`;
    const count = copies.get(key) ?? 0;
    copies.delete(key);
    if (count === 1 || (count === 0 && named.has(item.id))) continue;
    problems.push(`${item.id} (${item.subject}): ${count} copies in ${targetUpn}`);
  }
  for (const [key, count] of copies) problems.push(`${count} unexpected item(s) in ${targetUpn}: ${key}`);
  return problems;
}

/** The mailbox key of a simulator mailbox, as maintenance names it. */
export function mailboxKeyOf(stack: Stack, upn: string): string {
  return keyOf(stack.sim.tenant.mailbox(upn).id);
}
