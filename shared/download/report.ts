import { errorReason } from '../errors.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { notDownloadableReason } from './itemKinds.js';
import { notDownloadableBlob, readDownloadBatch } from './plan.js';
import type { StagingConverter } from './staging.js';
import type {
  DownloadBatchResult,
  DownloadPlanSummary,
  DownloadReport,
  DownloadRequest,
  NotDownloadable,
} from './types.js';

export interface FinishDownloadInput {
  downloadId: string;
  plan?: DownloadPlanSummary;
  file?: { blob: string; bytes: number };
  error?: string;
}

/**
 * Ends an export, however it went: deletes its staging folder (whatever is left in it goes too), writes the
 * report from the batch results, and drops the per-item EMLs (the file holds them). A folder that cannot be
 * deleted now is left to the sweep, and the report says so.
 */
export async function finishDownload(
  vault: VaultStore,
  converter: StagingConverter | undefined,
  input: FinishDownloadInput,
  linkLifetimeInMs: number,
): Promise<DownloadReport> {
  const request = await vault.readJson<DownloadRequest>(layout.downloadRequest(input.downloadId));
  if (!request) throw new Error(`No download '${input.downloadId}'`);
  let stagingCleaned = !input.plan;
  if (input.plan && converter) {
    try {
      await converter.deleteFolder(input.plan.stagingFolderId);
      stagingCleaned = true;
    } catch {
      stagingCleaned = false;
    }
  }
  const report = await reportOf(vault, request, input, stagingCleaned, linkLifetimeInMs);
  await vault.writeJson(layout.downloadReport(input.downloadId), report);
  if (report.file)
    for await (const name of vault.listNames(layout.downloadEmlPrefix(input.downloadId)))
      await vault.deleteIfExists(name);
  return report;
}

async function reportOf(
  vault: VaultStore,
  request: DownloadRequest,
  input: FinishDownloadInput,
  stagingCleaned: boolean,
  linkLifetimeInMs: number,
): Promise<DownloadReport> {
  const finishedAt = new Date();
  const failures: DownloadReport['failures'] = [];
  const idPaths = { importId: 0, folderListing: 0 };
  let converted = 0;
  for (let batch = 0; batch < (input.plan?.batchCount ?? 0); batch++) {
    const planned = await readDownloadBatch(vault, request.downloadId, batch);
    const result = await vault.readJson<DownloadBatchResult>(layout.downloadResult(request.downloadId, batch));
    const outcomes = new Map(result?.outcomes.map((o) => [o.sourceId, o]));
    for (const item of planned.items) {
      const outcome = outcomes.get(item.sourceId);
      if (outcome?.status === 'converted') {
        converted++;
        idPaths[outcome.idPath]++;
        continue;
      }
      failures.push({
        sourceItemId: item.sourceId,
        folderPath: item.folderPath,
        ...(item.subject !== undefined ? { subject: item.subject } : {}),
        code: outcome?.status === 'failed' ? outcome.code : 'NotConverted',
        message: outcome?.status === 'failed' ? outcome.message : 'The export ended before this item was converted',
      });
    }
  }
  const skipped = (await vault.readJson<NotDownloadable[]>(notDownloadableBlob(request.downloadId))) ?? [];
  const status = input.error || !input.file ? 'Failed' : failures.length ? 'CompletedWithErrors' : 'Completed';
  return {
    downloadId: request.downloadId,
    status,
    format: request.format,
    requestedAt: request.requestedAt,
    finishedAt: finishedAt.toISOString(),
    source: request.source,
    counts: {
      selected: input.plan?.selected ?? 0,
      converted,
      notDownloadable: skipped.length,
      failed: failures.length,
    },
    idPaths,
    ...(input.file
      ? { file: { ...input.file, expiresAt: new Date(finishedAt.getTime() + linkLifetimeInMs).toISOString() } }
      : {}),
    failures,
    notDownloadable: skipped.map((s) => ({ ...s, reason: notDownloadableReason(s.type) })),
    stagingCleaned,
    ...(input.error ? { error: errorReason(input.error) } : {}),
  };
}
