import { snapshotStillKept } from '../maintenance/expiringSnapshots.js';
import { RestoreRequestError } from '../restore/request.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { DownloadRequest } from './types.js';

/**
 * Writes an export's request, which keeps its snapshot from being pruned until the export's report is written,
 * then checks that no prune is deleting the snapshot: the download's half of the handshake in
 * maintenance/expiringSnapshots.ts, as a restore's request does. Refused (the request withdrawn) with
 * SnapshotExpiring when a prune got there first.
 */
export async function recordDownloadRequest(vault: VaultStore, download: DownloadRequest): Promise<void> {
  const { mailboxId, snapshotId } = download.source;
  await vault.writeJson(layout.downloadRequest(download.downloadId), download, { onlyIfAbsent: true });
  if (await snapshotStillKept(vault, mailboxId, snapshotId)) return;
  await withdrawDownloadRequest(vault, download.downloadId);
  throw new RestoreRequestError('SnapshotExpiring', 'Snapshot pruned while the download started', [
    `snapshot: '${snapshotId}' is being deleted by the retention policy (a prune of the mailbox began as this ` +
      'download was requested); choose a newer snapshot',
  ]);
}

/** Deletes a request no export was started for, so it protects no snapshot from pruning. */
export async function withdrawDownloadRequest(vault: VaultStore, downloadId: string): Promise<void> {
  await vault.deleteBlob(layout.downloadRequest(downloadId));
}
