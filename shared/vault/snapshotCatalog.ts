import { layout } from './layout.js';
import type { ManifestEntry, SnapshotRecord } from './records.js';
import type { VaultStore } from './vaultStore.js';

/**
 * Committed snapshots of a mailbox, newest first. Only commit records count: a manifest without its record
 * (a run that stopped before committing) is never listed or restored from.
 */
export async function listSnapshots(vault: VaultStore, mailboxId: string): Promise<SnapshotRecord[]> {
  const records = await readSnapshotRecords(vault, layout.snapshotsPrefix(mailboxId));
  return records.sort((a, b) => b.takenAt.localeCompare(a.takenAt) || b.snapshotId.localeCompare(a.snapshotId));
}

/**
 * Every commit record under a mailbox's snapshots prefix (`layout.snapshotsPrefix`, or `layout.byKey.snapshots`
 * for maintenance, which walks the vault by key), in the order the vault lists them.
 */
export async function readSnapshotRecords(vault: VaultStore, snapshotsPrefix: string): Promise<SnapshotRecord[]> {
  const records: SnapshotRecord[] = [];
  for await (const name of vault.listNames(snapshotsPrefix)) {
    if (!name.endsWith('.json')) continue;
    const record = await vault.readJson<SnapshotRecord>(name);
    if (record) records.push(withCurrentStatus(record));
  }
  return records;
}

/** Records committed before the status words were unified said `Complete` and `CompleteWithErrors`. */
function withCurrentStatus(record: SnapshotRecord): SnapshotRecord {
  const legacy = record.status as string;
  if (legacy === 'Complete') return { ...record, status: 'Completed' };
  if (legacy === 'CompleteWithErrors') return { ...record, status: 'CompletedWithErrors' };
  return record;
}

export type SnapshotSelector = { latest: true } | { snapshotId: string } | { asOf: string };

/**
 * `latest`, an id, or for a time the newest snapshot committed at or before it: every item in it was read by then.
 * Not by `takenAt`, its run's start: a nightly run's lanes can reach a mailbox hours after it, so a snapshot taken
 * at 02:00 may hold what the mailbox looked like at 06:00, after the incident a restore "as of 04:00" goes behind.
 */
export async function findSnapshot(
  vault: VaultStore,
  mailboxId: string,
  selector: SnapshotSelector,
): Promise<SnapshotRecord | undefined> {
  if ('snapshotId' in selector) {
    if (!/^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$/.test(selector.snapshotId)) return undefined;
    const record = await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, selector.snapshotId));
    return record && withCurrentStatus(record);
  }
  const all = await listSnapshots(vault, mailboxId);
  if ('latest' in selector) return all[0];
  const at = Date.parse(selector.asOf);
  return all.find((s) => Date.parse(s.committedAt) <= at);
}

export async function* readManifest(vault: VaultStore, snapshot: SnapshotRecord): AsyncGenerator<ManifestEntry> {
  yield* vault.readNdjsonGz<ManifestEntry>(snapshot.manifestBlob);
}
