import { layout } from '../../shared/vault/layout.js';
import type { ManifestEntry, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';

/** A committed snapshot written straight to the vault: its manifest (plain, no index) of `entries`, then its record. */
export async function writePlainSnapshot(
  vault: VaultStore,
  snapshot: { mailboxId: string; upn: string; snapshotId: string; takenAt: string; entries: ManifestEntry[] },
): Promise<SnapshotRecord> {
  const { mailboxId, upn, snapshotId, takenAt, entries } = snapshot;
  const manifestBlob = layout.manifest(mailboxId, snapshotId);
  const { sha256 } = await vault.writeNdjsonGz(manifestBlob, entries);
  const record = {
    snapshotId,
    mailboxId,
    upn,
    runId: `run-${snapshotId}`,
    takenAt,
    committedAt: takenAt,
    status: 'Completed',
    folderCount: 0,
    itemCount: entries.filter((entry) => entry.kind === 'item').length,
    totalBytes: 0,
    manifestBlob,
    manifestSha256: sha256,
    previousSnapshotId: null,
    failedItemCount: 0,
  } satisfies SnapshotRecord;
  await vault.writeJson(layout.snapshotRecord(mailboxId, snapshotId), record);
  return record;
}
