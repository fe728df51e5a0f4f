import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorCode, errorReason } from '../errors.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { DownloadHeartbeat } from './heartbeat.js';
import { readDownloadBatch } from './plan.js';
import type { StagingConverter } from './staging.js';
import type { ConversionOutcome, DownloadBatchResult, PlannedDownload } from './types.js';

export interface ConvertBatchInput {
  downloadId: string;
  batch: number;
  stagingFolderId: string;
}

/**
 * Converts one planned batch, one item at a time: import into the download's staging folder, read the MIME
 * back into the vault (downloads/{id}/eml/…), delete the staged copy. Items an earlier attempt converted are
 * skipped (their EML is in the vault); what an interrupted attempt left in the staging folder is deleted first.
 * One item failing fails that item only.
 */
export async function convertDownloadBatch(
  vault: VaultStore,
  converter: StagingConverter,
  input: ConvertBatchInput,
): Promise<{ converted: number; failed: number }> {
  const planned = await readDownloadBatch(vault, input.downloadId, input.batch);
  const earlier = await vault.readJson<DownloadBatchResult>(layout.downloadResult(input.downloadId, input.batch));
  const done = new Map(
    (earlier?.outcomes ?? []).filter((o) => o.status === 'converted').map((o) => [o.sourceId, o] as const),
  );
  const heartbeat = new DownloadHeartbeat(vault, input.downloadId);
  await heartbeat.beat();
  const leftoversCleared = await converter.clearFolder(input.stagingFolderId);
  const outcomes: ConversionOutcome[] = [];
  for (const item of planned.items) {
    // A batch waits its turn on the staging mailbox's upload budget, shared by every download: it may take longer
    // than the sweep's patience, so the sign of life goes on item by item.
    await heartbeat.beat();
    outcomes.push(done.get(item.sourceId) ?? (await convertOne(vault, converter, input, item)));
  }
  const result: DownloadBatchResult = { batch: input.batch, outcomes, leftoversCleared };
  await vault.writeJson(layout.downloadResult(input.downloadId, input.batch), result);
  return {
    converted: outcomes.filter((o) => o.status === 'converted').length,
    failed: outcomes.filter((o) => o.status === 'failed').length,
  };
}

async function convertOne(
  vault: VaultStore,
  converter: StagingConverter,
  input: ConvertBatchInput,
  item: PlannedDownload,
): Promise<ConversionOutcome> {
  let stagedId: string | undefined;
  let readId: string | undefined;
  try {
    stagedId = await converter.stage(input.stagingFolderId, item);
    const mime = await converter.openMime(input.stagingFolderId, stagedId);
    readId = mime.messageId;
    let bytes = 0;
    const counting = new PassThrough();
    counting.on('data', (chunk: Buffer) => (bytes += chunk.length));
    try {
      const upload = vault.writeStream(layout.downloadEml(input.downloadId, item.sourceId), counting, 'message/rfc822');
      await Promise.all([pipeline(mime.body, counting), upload]);
    } finally {
      mime.release();
    }
    return { sourceId: item.sourceId, status: 'converted', bytes, idPath: mime.idPath };
  } catch (error) {
    return { sourceId: item.sourceId, status: 'failed', code: errorCode(error), message: errorReason(error) };
  } finally {
    // The staged copy goes at once; if this fails, the folder's deletion at the end (or the sweep) takes it.
    const toDelete = readId ?? stagedId;
    if (toDelete) await converter.discard(toDelete).catch(() => undefined);
  }
}
