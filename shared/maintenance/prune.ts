import { layout } from '../vault/layout.js';
import type { ManifestEntry, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { applyRetention, type RetentionPolicy } from './retention.js';

export interface PruneInput {
  mailboxKey: string;
  policy: RetentionPolicy;
  now: Date;
  dryRun: boolean;
  /** Snapshots a running restore reads from: kept whatever the policy says. */
  protectedSnapshots: string[];
  /** Only item versions created before this are swept: a running backup's new versions are not referenced yet. */
  sweepCreatedBefore: Date;
}

export interface PruneResult {
  mailboxKey: string;
  mailboxId: string | null;
  upn: string | null;
  dryRun: boolean;
  snapshotsKept: string[];
  snapshotsExpired: string[];
  snapshotsProtected: string[];
  versionsDeleted: number;
  bytesFreed: number;
  /** Blobs a retention policy (WORM) still protects: left in place, reported. */
  immutable: Array<{ blob: string; reason: string }>;
}

/**
 * Applies the retention policy to one mailbox. First the expired snapshots' records (the commit: without it a
 * snapshot does not exist) and manifests are deleted; then, mark and sweep, the item versions that no remaining
 * snapshot references. An interruption at any point leaves unreferenced blobs behind, never a snapshot that
 * points at a missing one. A dry run reports the same without deleting anything.
 */
export async function pruneMailbox(vault: VaultStore, input: PruneInput): Promise<PruneResult> {
  const { mailboxKey, dryRun } = input;
  const records: SnapshotRecord[] = [];
  for await (const name of vault.listNames(layout.byKey.snapshots(mailboxKey))) {
    if (!name.endsWith('.json')) continue;
    const record = await vault.readJson<SnapshotRecord>(name);
    if (record) records.push(record);
  }
  const { keep, expire } = applyRetention(records, input.policy, input.now);
  const protectedIds = new Set(input.protectedSnapshots);
  const expired = expire.filter((s) => !protectedIds.has(s.snapshotId));
  const result: PruneResult = {
    mailboxKey,
    mailboxId: records[0]?.mailboxId ?? null,
    upn: records[0]?.upn ?? null,
    dryRun,
    snapshotsKept: keep.map((s) => s.snapshotId),
    snapshotsExpired: expired.map((s) => s.snapshotId),
    snapshotsProtected: expire.filter((s) => protectedIds.has(s.snapshotId)).map((s) => s.snapshotId),
    versionsDeleted: 0,
    bytesFreed: 0,
    immutable: [],
  };

  // 1. Records first, then manifests.
  const remaining = new Set(records.map((r) => r.snapshotId));
  for (const snapshot of expired) {
    if (dryRun) {
      remaining.delete(snapshot.snapshotId);
      continue;
    }
    const outcome = await vault.deleteBlob(layout.byKey.snapshotRecord(mailboxKey, snapshot.snapshotId));
    if (outcome === 'immutable') {
      result.immutable.push({
        blob: layout.byKey.snapshotRecord(mailboxKey, snapshot.snapshotId),
        reason: 'snapshot record under a retention policy',
      });
      continue; // the snapshot still exists, so everything it references stays
    }
    remaining.delete(snapshot.snapshotId);
    const manifest = await vault.deleteBlob(snapshot.manifestBlob);
    if (manifest === 'immutable')
      result.immutable.push({ blob: snapshot.manifestBlob, reason: 'manifest under a retention policy' });
  }

  // 2. Mark: every version a remaining snapshot references.
  const referenced = new Set<string>();
  for (const record of records) {
    if (!remaining.has(record.snapshotId)) continue;
    for await (const entry of vault.readNdjsonGz<ManifestEntry>(record.manifestBlob))
      if (entry.kind === 'item') referenced.add(entry.blob);
  }

  // 3. Sweep: versions nothing references, old enough not to belong to a run still in progress.
  for await (const blob of vault.listBlobs(layout.byKey.items(mailboxKey))) {
    if (referenced.has(blob.name) || blob.createdOn >= input.sweepCreatedBefore) continue;
    if (dryRun) {
      result.versionsDeleted++;
      result.bytesFreed += blob.size;
      continue;
    }
    const outcome = await vault.deleteBlob(blob.name);
    if (outcome === 'deleted') {
      result.versionsDeleted++;
      result.bytesFreed += blob.size;
    } else if (outcome === 'immutable')
      result.immutable.push({ blob: blob.name, reason: 'item version under a retention policy' });
  }
  return result;
}

/**
 * What running work needs left alone: snapshots that running restores read, and the start of the oldest running
 * backup (its new versions are not in any manifest yet). Work quiet for two days is taken as abandoned.
 */
export async function findWorkInProgress(
  vault: VaultStore,
  now: Date,
): Promise<{ protectedSnapshots: Map<string, string[]>; sweepCreatedBefore: Date }> {
  const staleAfter = 48 * 3600_000;
  let sweepCreatedBefore = new Date(now.getTime() - 3600_000);
  for await (const prefix of vault.listPrefixes('runs/')) {
    const runId = prefix.slice('runs/'.length, -1);
    const match = /^backup-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(runId);
    if (!match) continue;
    const startedAt = new Date(Date.UTC(+match[1]!, +match[2]! - 1, +match[3]!, +match[4]!, +match[5]!, +match[6]!));
    if (now.getTime() - startedAt.getTime() > staleAfter) continue;
    if (await vault.readJson(layout.runReport(runId))) continue;
    if (startedAt < sweepCreatedBefore) sweepCreatedBefore = startedAt;
  }
  const protectedSnapshots = new Map<string, string[]>();
  for await (const prefix of vault.listPrefixes('restores/')) {
    const restoreId = prefix.slice('restores/'.length, -1);
    const request = await vault.readJson<{ requestedAt: string; source: { mailboxId: string; snapshotId: string } }>(
      layout.restoreRequest(restoreId),
    );
    if (!request || now.getTime() - Date.parse(request.requestedAt) > staleAfter) continue;
    if (
      (await vault.readJson(layout.restoreReport(restoreId))) ||
      (await vault.readJson(layout.restoreCanceled(restoreId)))
    )
      continue;
    const key = layout.mailboxPrefix(request.source.mailboxId).split('/')[1]!;
    protectedSnapshots.set(key, [...(protectedSnapshots.get(key) ?? []), request.source.snapshotId]);
  }
  return { protectedSnapshots, sweepCreatedBefore };
}
