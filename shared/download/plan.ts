import { folderPathText } from '../mailbox/index.js';
import { packBySize } from '../packing.js';
import { matches } from '../restore/request.js';
import { IndexedNdjsonReader, writeIndexedNdjson, type IndexedNdjsonFile } from '../vault/indexedNdjson.js';
import { layout } from '../vault/layout.js';
import type { ManifestFolder, SnapshotRecord } from '../vault/records.js';
import { readManifest } from '../vault/snapshotCatalog.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { isDownloadableClass } from './itemKinds.js';
import type { StagingConverter } from './staging.js';
import { DownloadHeartbeat } from './heartbeat.js';
import { stagingFolderName } from './staging.js';
import type {
  DownloadPlanSummary,
  DownloadRequest,
  NotDownloadable,
  PlannedDownload,
  PlannedDownloadBatch,
} from './types.js';

/** Items per conversion activity: a few minutes of work, so a retried activity repeats little. */
export const ITEMS_PER_DOWNLOAD_BATCH = 25;
/**
 * As a restore's batches: at the staging mailbox's 150 MB per 5 minutes, shared by every download, a batch's
 * uploads stay well within an activity's time limit (its result is written when the batch ends).
 */
export const BYTES_PER_DOWNLOAD_BATCH = 64 * 1024 * 1024;

export function downloadPlanFile(downloadId: string): IndexedNdjsonFile {
  return {
    data: layout.downloadPlan(downloadId),
    index: layout.downloadPlanIndex(downloadId),
    description: `the plan of download ${downloadId}`,
  };
}

/** Where the plan keeps the items Graph cannot render: the report names them. */
export const notDownloadableBlob = (downloadId: string) => `downloads/${downloadId}/not-downloadable.json`;

/**
 * Plans an export: the snapshot's items the filters select, in manifest order, split into those that become EML
 * and those that do not (calendar items, contacts...), written as batches; and the download's folder in the
 * staging mailbox, made now so every batch converts into the same one.
 */
export async function planDownload(
  vault: VaultStore,
  converter: StagingConverter,
  request: DownloadRequest,
): Promise<DownloadPlanSummary> {
  const snapshot = await vault.readJson<SnapshotRecord>(
    layout.snapshotRecord(request.source.mailboxId, request.source.snapshotId),
  );
  if (!snapshot) throw new Error(`Snapshot ${request.source.snapshotId} is no longer in the vault`);
  const folders = new Map<string, ManifestFolder>();
  const toConvert: PlannedDownload[] = [];
  const skipped: NotDownloadable[] = [];
  const itemIds = request.filters.itemIds ? new Set(request.filters.itemIds) : undefined;
  let selected = 0;
  for await (const entry of readManifest(vault, snapshot)) {
    if (entry.kind === 'folder') {
      folders.set(entry.id, entry);
      continue;
    }
    if (!matches(entry, folders.get(entry.folderId), request.filters, itemIds)) continue;
    selected++;
    const folderPath = folderPathText(folders.get(entry.folderId)?.path ?? []);
    const subject = entry.subject !== undefined ? { subject: entry.subject } : {};
    if (!isDownloadableClass(entry.type)) {
      skipped.push({ sourceItemId: entry.id, type: entry.type, folderPath, ...subject });
      continue;
    }
    toConvert.push({
      sourceId: entry.id,
      blob: entry.blob,
      sha256: entry.sha256,
      length: entry.length,
      folderPath,
      ...subject,
      ...((entry.receivedDateTime ?? entry.createdDateTime)
        ? { receivedDateTime: entry.receivedDateTime ?? entry.createdDateTime }
        : {}),
    });
  }
  const batches = packBySize(toConvert, ITEMS_PER_DOWNLOAD_BATCH, BYTES_PER_DOWNLOAD_BATCH, (i) => i.length);
  const records = batches.map((items, batch) => ({ batch, items }) satisfies PlannedDownloadBatch);
  await writeIndexedNdjson(vault, downloadPlanFile(request.downloadId), records);
  await vault.writeJson(notDownloadableBlob(request.downloadId), skipped);
  const stagingFolderName_ = stagingFolderName(request.downloadId, new Date(request.requestedAt));
  // The folder's name carries the request's time: after a long plan the sweep would take it for a leftover.
  await new DownloadHeartbeat(vault, request.downloadId).beat();
  const stagingFolderId = await converter.ensureFolder(stagingFolderName_);
  return {
    batchCount: batches.length,
    selected,
    toConvert: toConvert.length,
    notDownloadable: skipped.length,
    bytesToConvert: toConvert.reduce((sum, i) => sum + i.length, 0),
    stagingFolderId,
    stagingFolderName: stagingFolderName_,
  };
}

export async function readDownloadBatch(
  vault: VaultStore,
  downloadId: string,
  batch: number,
): Promise<PlannedDownloadBatch> {
  const [planned] = await new IndexedNdjsonReader(vault).read<PlannedDownloadBatch>(
    downloadPlanFile(downloadId),
    batch,
    1,
  );
  return planned!;
}
