import { errorReason } from '../shared/errors.js';
import * as contracts from './contracts.js';
import type { DownloadExportInput, DownloadOutput } from './contracts.js';
import { callActivity, continueAsNew, registerOrchestration, type Orchestrator } from './durable.js';

/**
 * One export: plan, convert the batches one after another through the download's staging folder (one item is
 * staged at a time, so a folder listing can stand in for a refused id), assemble the MBOX or ZIP in the vault,
 * then delete the staging folder and write the report, which also happens when anything before it failed.
 */
export const downloadExport: Orchestrator<DownloadExportInput, DownloadOutput> = function* (context, input) {
  const { downloadId, format } = input;
  let plan = input.plan;
  let report: DownloadOutput;
  try {
    if (!plan) {
      context.df.setCustomStatus({ phase: 'planning' });
      plan = yield* callActivity(context, contracts.planDownload, { downloadId });
    }
    let next = input.nextBatch ?? 0;
    for (let windows = 1; next < plan.batchCount; windows++, next++) {
      context.df.setCustomStatus({
        phase: 'converting',
        batchesDone: next,
        batchCount: plan.batchCount,
        toConvert: plan.toConvert,
        notDownloadable: plan.notDownloadable,
      });
      yield* callActivity(context, contracts.convertDownloadBatch, {
        downloadId,
        batch: next,
        stagingFolderId: plan.stagingFolderId,
      });
      if (windows >= input.windowsPerEpisode && next + 1 < plan.batchCount)
        return continueAsNew(context, contracts.downloadExport, { ...input, plan, nextBatch: next + 1 });
    }
    context.df.setCustomStatus({ phase: 'assembling', batchesDone: plan.batchCount, batchCount: plan.batchCount });
    const file = yield* callActivity(context, contracts.assembleDownload, {
      downloadId,
      format,
      batchCount: plan.batchCount,
    });
    context.df.setCustomStatus({ phase: 'reporting' });
    report = yield* callActivity(context, contracts.finishDownload, {
      downloadId,
      plan,
      file: { blob: file.blob, bytes: file.bytes },
    });
  } catch (error) {
    const failed = { downloadId, ...(plan ? { plan } : {}), error: errorReason(error) };
    report = yield* callActivity(context, contracts.finishDownload, failed);
  }
  context.df.setCustomStatus({ phase: 'done', status: report.status });
  return report;
};

registerOrchestration(contracts.downloadExport, downloadExport);
