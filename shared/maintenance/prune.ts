import { compareKeys, ExternalSorter } from '../vault/externalSort.js';
import { layout } from '../vault/layout.js';
import type { ManifestEntry, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import {
  clearExpiringMarks,
  markThenCheckRestores,
  type AbandonedRead,
  type AbandonedReadCheck,
} from './expiringSnapshots.js';
import { applyRetention, type RetentionPolicy } from './retention.js';
import { entryOf, writeDirectoryEntry } from '../vault/mailboxDirectory.js';
import { readSnapshotRecords } from '../vault/snapshotCatalog.js';

export { findRestoresInProgress, findSnapshotReadsInProgress } from './snapshotReads.js';

export interface PruneInput {
  mailboxKey: string;
  policy: RetentionPolicy;
  now: Date;
  dryRun: boolean;
  /**
   * Snapshots running restores read, as read holding the lease: kept whatever the policy says, and not marked.
   * A restore requested after that read is seen by the handshake (expiringSnapshots.ts) before anything is deleted.
   */
  protectedSnapshots: string[];
  /** Requests of this mailbox found abandoned in that read (their orchestration never started): reported. */
  abandonedReads?: AbandonedRead[];
  /** How the handshake's second read tells abandoned requests; without it, every request protects. */
  abandonedReadCheck?: AbandonedReadCheck;
  /**
   * Versions an uncommitted run has recorded (stored, reused, or known from its plan): live for the sweep,
   * although no manifest references them yet (inFlight.ts).
   */
  inFlight: Set<string>;
  /** Called before each delete: throws when the mailbox's lease is lost, so a sweep never runs unowned. */
  assertOwned?: () => void;
}

export interface PruneResult {
  mailboxKey: string;
  mailboxId: string | null;
  upn: string | null;
  dryRun: boolean;
  snapshotsKept: string[];
  snapshotsExpired: string[];
  snapshotsProtected: string[];
  /** Restore or download requests whose orchestration never started: they protected nothing. */
  abandonedReads: AbandonedRead[];
  versionsDeleted: number;
  bytesFreed: number;
  /** Blobs a retention policy (WORM) still protects: left in place, reported. */
  immutable: Array<{ blob: string; reason: string }>;
}

/**
 * Applies the retention policy to one mailbox. Run it holding the mailbox's lease (mailboxOwner.ts), so no
 * commit interleaves with the mark and the sweep. The expired snapshots are marked and the running restores read
 * again (the handshake with restores being requested, expiringSnapshots.ts), so a snapshot a restore was just
 * accepted for stays. Then the expired snapshots' records (the commit: without it a snapshot does not exist) and
 * manifests are deleted, and the marks cleared; then, mark and sweep, the item versions that no remaining
 * snapshot references. An interruption at any point leaves unreferenced blobs behind, never a snapshot that
 * points at a missing one. A dry run reports the same without deleting (or marking) anything.
 */
export async function pruneMailbox(vault: VaultStore, input: PruneInput): Promise<PruneResult> {
  const records = await readSnapshotRecords(vault, layout.byKey.snapshots(input.mailboxKey));
  const decided = decideExpiry(records, input);
  const { result } = decided;
  let expired = decided.expired;
  if (!input.dryRun) {
    const checked = await markThenCheckRestores(vault, input.mailboxKey, expired, input.abandonedReadCheck);
    expired = checked.expire;
    keepForRestores(result, checked.keptForRestores);
    for (const read of checked.abandoned)
      if (!result.abandonedReads.some((known) => known.id === read.id)) result.abandonedReads.push(read);
  }
  const remaining = await deleteExpiredSnapshots(vault, input, records, expired, result);
  if (!input.dryRun) {
    await clearExpiringMarks(vault, input.mailboxKey);
    input.assertOwned?.();
    const left = records.filter((record) => remaining.has(record.snapshotId));
    await writeDirectoryEntry(vault, input.mailboxKey, entryOf(left));
  }
  const referenced = await referencedVersions(vault, input, records, remaining);
  await sweepUnreferencedVersions(vault, input, referenced, result);
  return result;
}

/** The policy's verdict, less the snapshots running restores read; the result starts with nothing deleted. */
function decideExpiry(
  records: SnapshotRecord[],
  input: PruneInput,
): { result: PruneResult; expired: SnapshotRecord[] } {
  const { keep, expire } = applyRetention(records, input.policy, input.now);
  const protectedIds = new Set(input.protectedSnapshots);
  const expired = expire.filter((s) => !protectedIds.has(s.snapshotId));
  const result: PruneResult = {
    mailboxKey: input.mailboxKey,
    mailboxId: records[0]?.mailboxId ?? null,
    upn: records[0]?.upn ?? null,
    dryRun: input.dryRun,
    snapshotsKept: keep.map((s) => s.snapshotId),
    snapshotsExpired: expired.map((s) => s.snapshotId),
    snapshotsProtected: expire.filter((s) => protectedIds.has(s.snapshotId)).map((s) => s.snapshotId),
    abandonedReads: [...(input.abandonedReads ?? [])],
    versionsDeleted: 0,
    bytesFreed: 0,
    immutable: [],
  };
  return { result, expired };
}

/** Snapshots a restore requested while this prune ran names: protected after all. */
function keepForRestores(result: PruneResult, snapshotIds: string[]): void {
  if (snapshotIds.length === 0) return;
  result.snapshotsExpired = result.snapshotsExpired.filter((id) => !snapshotIds.includes(id));
  result.snapshotsProtected.push(...snapshotIds);
}

/** Step 1: records first, then manifests. Returns the snapshots that still exist (a dry run counts as deleted). */
async function deleteExpiredSnapshots(
  vault: VaultStore,
  input: PruneInput,
  records: SnapshotRecord[],
  expired: SnapshotRecord[],
  result: PruneResult,
): Promise<Set<string>> {
  const remaining = new Set(records.map((r) => r.snapshotId));
  for (const snapshot of expired) {
    if (input.dryRun || (await deleteSnapshot(vault, input.mailboxKey, snapshot, result))) {
      remaining.delete(snapshot.snapshotId);
    }
  }
  return remaining;
}

/** Deletes one snapshot's record, then its manifest; false when the record is immutable and the snapshot stays. */
async function deleteSnapshot(
  vault: VaultStore,
  mailboxKey: string,
  snapshot: SnapshotRecord,
  result: PruneResult,
): Promise<boolean> {
  const recordBlob = layout.byKey.snapshotRecord(mailboxKey, snapshot.snapshotId);
  if ((await vault.deleteBlob(recordBlob)) === 'immutable') {
    result.immutable.push({ blob: recordBlob, reason: 'snapshot record under a retention policy' });
    return false; // the snapshot still exists, so everything it references stays
  }
  const manifest = await vault.deleteBlob(snapshot.manifestBlob);
  if (manifest === 'immutable')
    result.immutable.push({ blob: snapshot.manifestBlob, reason: 'manifest under a retention policy' });
  if (snapshot.manifestIndexBlob && (await vault.deleteBlob(snapshot.manifestIndexBlob)) === 'immutable')
    result.immutable.push({ blob: snapshot.manifestIndexBlob, reason: 'manifest index under a retention policy' });
  return true;
}

/**
 * Step 2, mark: every version a remaining snapshot references, in name order (sorted through the vault, so a
 * mailbox of millions of versions is never a set in memory).
 */
async function referencedVersions(
  vault: VaultStore,
  input: PruneInput,
  records: SnapshotRecord[],
  remaining: Set<string>,
): Promise<ExternalSorter<string>> {
  const prefix = `${layout.byKey.mailbox(input.mailboxKey)}state/prune-sort/`;
  const referenced = new ExternalSorter<string>({ vault, prefix }, (name) => name);
  for (const record of records) {
    if (!remaining.has(record.snapshotId)) continue;
    for await (const entry of vault.readNdjsonGz<ManifestEntry>(record.manifestBlob))
      if (entry.kind === 'item') await referenced.add(entry.blob);
  }
  return referenced;
}

/**
 * Step 3, sweep: versions no remaining snapshot references and no uncommitted run has recorded. The listing
 * comes in name order, so it is merged with the sorted references: one pass over each.
 */
async function sweepUnreferencedVersions(
  vault: VaultStore,
  input: PruneInput,
  referenced: ExternalSorter<string>,
  result: PruneResult,
): Promise<void> {
  const references = referenced.sorted();
  let next = await references.next();
  try {
    for await (const blob of vault.listBlobs(layout.byKey.items(input.mailboxKey))) {
      while (!next.done && compareKeys(next.value, blob.name) < 0) next = await references.next();
      if ((!next.done && next.value === blob.name) || input.inFlight.has(blob.name)) continue;
      input.assertOwned?.();
      // A dry run counts each version as if its delete had succeeded.
      const outcome = input.dryRun ? 'deleted' : await vault.deleteBlob(blob.name);
      if (outcome === 'deleted') {
        result.versionsDeleted++;
        result.bytesFreed += blob.size;
      } else if (outcome === 'immutable')
        result.immutable.push({ blob: blob.name, reason: 'item version under a retention policy' });
    }
  } finally {
    await references.return(undefined);
    await referenced.discard();
  }
}
