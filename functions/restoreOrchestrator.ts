import { errorReason } from '../shared/errors.js';
import * as contracts from './contracts.js';
import type { RestoreMailboxInput, RestoreOutput } from './contracts.js';
import { activityTask, callActivity, continueAsNew, registerOrchestration, type Orchestrator } from './durable.js';
import { settleWindow } from './windows.js';

/**
 * One restore: plan, import the batches in fixed windows (their uploads are paced under the target mailbox's
 * upload budget), continue as new every few windows, then write the report. Only ids and counts cross the
 * Durable boundary; the import sessions never do.
 */
export const restoreMailbox: Orchestrator<RestoreMailboxInput, RestoreOutput> = function* (context, input) {
  const { restoreId, targetMailboxId } = input;
  let plan = input.plan;
  let report: RestoreOutput;
  try {
    if (!plan) {
      context.df.setCustomStatus({ phase: 'planning' });
      plan = yield* callActivity(context, contracts.planRestore, { restoreId });
    }
    let next = input.nextBatch ?? 0;
    for (let windows = 1; next < plan.batchCount; windows++) {
      const { batchCount, toImport, skippedPresent } = plan;
      context.df.setCustomStatus({
        phase: 'importing',
        batchesDone: next,
        batchCount,
        toImport,
        skippedAlreadyPresent: skippedPresent,
      });
      const size = Math.min(input.importConcurrency, plan.batchCount - next);
      const first = next;
      const tasks = Array.from({ length: size }, (_, i) =>
        activityTask(context, contracts.importBatch, { restoreId, targetMailboxId, batch: first + i }),
      );
      // A batch that failed outright is reported item by item by finishRestore.
      yield* settleWindow(context, tasks);
      next += size;
      if (windows >= input.windowsPerEpisode && next < plan.batchCount)
        return continueAsNew(context, contracts.restoreMailbox, { ...input, plan, nextBatch: next });
    }
    context.df.setCustomStatus({ phase: 'reporting', batchesDone: plan.batchCount, batchCount: plan.batchCount });
    report = yield* callActivity(context, contracts.finishRestore, { restoreId, plan });
  } catch (error) {
    const failed = { restoreId, ...(plan ? { plan } : {}), error: errorReason(error) };
    report = yield* callActivity(context, contracts.finishRestore, failed);
  }
  context.df.setCustomStatus({ phase: 'done', status: report.status });
  return report;
};

registerOrchestration(contracts.restoreMailbox, restoreMailbox);
