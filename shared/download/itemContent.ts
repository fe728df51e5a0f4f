import { PassThrough, type Readable } from 'node:stream';
import type { ManifestItem, SnapshotRecord } from '../vault/records.js';
import { readManifest } from '../vault/snapshotCatalog.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { stagingFolderName, type IdPath, type StagingConverter } from './staging.js';

/** An item of a snapshot by its id (one pass over the manifest). */
export async function findSnapshotItem(
  vault: VaultStore,
  snapshot: SnapshotRecord,
  itemId: string,
): Promise<ManifestItem | undefined> {
  for await (const entry of readManifest(vault, snapshot))
    if (entry.kind === 'item' && entry.id === itemId) return entry;
  return undefined;
}

/**
 * One item as EML, streamed: imported into a staging folder of its own, read back through the mail API, and
 * the folder (with the staged copy) deleted for good once the stream ends, fails or is abandoned. Nothing of the
 * message is held in memory beyond the stream's buffers.
 */
export async function openItemContent(
  converter: StagingConverter,
  item: ManifestItem,
  downloadId: string,
  now: Date,
): Promise<{ body: Readable; idPath: IdPath }> {
  const folderId = await converter.ensureFolder(stagingFolderName(downloadId, now));
  const cleanUp = () => converter.deleteFolder(folderId).catch(() => undefined);
  try {
    const stored = { sourceId: item.id, blob: item.blob, sha256: item.sha256, length: item.length };
    const stagedId = await converter.stage(folderId, stored);
    const mime = await converter.openMime(folderId, stagedId);
    const body = new PassThrough();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      mime.release();
      void cleanUp();
    };
    body.once('close', end);
    mime.body.once('error', (error) => body.destroy(error));
    mime.body.once('end', end);
    mime.body.pipe(body);
    return { body, idPath: mime.idPath };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
