import { recordSnapshotRead, withdrawSnapshotRead } from '../maintenance/expiringSnapshots.js';
import { snapshotExpiring } from '../restore/request.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { DownloadRequest } from './types.js';

/**
 * Writes an export's request, which keeps its snapshot from being pruned until the export's report is written,
 * and checks that no prune is deleting the snapshot: the handshake of maintenance/expiringSnapshots.ts, as a
 * restore's request does. Refused (the request withdrawn) with SnapshotExpiring when a prune got there first.
 * Returns the deadline by which the export's orchestration must be started (`startsInTime`).
 */
export async function recordDownloadRequest(vault: VaultStore, download: DownloadRequest): Promise<string> {
  const reader = { kind: 'download' as const, id: download.downloadId };
  const startBy = await recordSnapshotRead(vault, reader, download, download.source);
  if (startBy) return startBy;
  throw snapshotExpiring('download', download.source.snapshotId);
}

/** Deletes a request no export was started for, and its marker, so it protects no snapshot from pruning. */
export async function withdrawDownloadRequest(vault: VaultStore, download: DownloadRequest): Promise<void> {
  await withdrawSnapshotRead(vault, { kind: 'download', id: download.downloadId }, download.source.mailboxId);
}
