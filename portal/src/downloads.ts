import { api, downloadFile, query } from './api.js';
import type { Item } from './types.js';

/** One message of a snapshot as an `.eml` (the API converts it through the staging mailbox). */
export function downloadItemAsEml(upn: string, snapshotId: string, item: Item): Promise<void> {
  const path = `snapshots/${snapshotId}/items/${encodeURIComponent(item.id)}/content?${query({ mailbox: upn })}`;
  return downloadFile(path, `${(item.subject ?? 'message').slice(0, 100) || 'message'}.eml`);
}

interface DownloadStatus {
  status: string;
  progress: { phase?: string; batchesDone?: number; batchCount?: number } | null;
  download: { url: string } | null;
  report: { failures?: Array<{ reason: string }> } | null;
}

const POLL_MS = 1000;

/**
 * Items of one snapshot as one MBOX or ZIP: an export job on the server, followed until its file is ready, then
 * handed to the browser. `onProgress` hears each status; throws ApiError when the API refuses or the job fails.
 */
export async function downloadSelection(
  upn: string,
  snapshotId: string,
  items: Item[],
  format: 'mbox' | 'zip',
  onProgress: (text: string) => void,
): Promise<void> {
  const body = { sourceMailbox: upn, snapshot: snapshotId, itemIds: items.map((i) => i.id), format };
  const { id } = await api<{ id: string }>('downloads', { method: 'POST', body });
  for (;;) {
    const status = await api<DownloadStatus>(`downloads/${id}`);
    if (status.download) return downloadFile(`downloads/${id}/file`, `mailbox-vault-${id}.${format}`);
    if (status.status === 'Failed')
      throw new Error(`Download ${id} ${status.status}: ${status.report?.failures?.[0]?.reason ?? 'see its report'}`);
    const { phase, batchesDone, batchCount } = status.progress ?? {};
    const batches = batchCount !== undefined ? `, batch ${batchesDone ?? 0} of ${batchCount}` : '';
    onProgress(`Preparing the ${format.toUpperCase()} file: ${phase ?? 'starting'}${batches}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
