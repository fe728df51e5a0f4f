import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import type { RestorePlanSummary, RestoreReport } from '../shared/restore/types.js';
import { settleWindow } from './windows.js';

export interface RestoreMailboxInput {
  restoreId: string;
  targetMailboxId: string;
  importConcurrency: number;
  windowsPerEpisode: number;
  plan?: RestorePlanSummary;
  nextBatch?: number;
}

export interface RestoreOutput {
  restoreId: string;
  status: RestoreReport['status'];
  counts: RestoreReport['counts'];
}

const activityRetry = new df.RetryOptions(5_000, 3);
activityRetry.backoffCoefficient = 2;

/**
 * One restore: plan, import the batches in fixed windows (default 4 per target mailbox; their uploads are paced
 * under the mailbox's upload budget), continue as new every few windows, then write the report. Only ids and counts
 * cross the Durable boundary; the import sessions never do.
 */
export const restoreMailbox: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput() as RestoreMailboxInput;
  const { restoreId, targetMailboxId } = input;
  let plan = input.plan;
  try {
    if (!plan) {
      context.df.setCustomStatus({ phase: 'planning' });
      plan = (yield context.df.callActivityWithRetry('planRestore', activityRetry, {
        restoreId,
      })) as RestorePlanSummary;
    }
    let next = input.nextBatch ?? 0;
    let windows = 0;
    while (next < plan.batchCount) {
      context.df.setCustomStatus({
        phase: 'importing',
        batchesDone: next,
        batchCount: plan.batchCount,
        toImport: plan.toImport,
        skippedAlreadyPresent: plan.skippedPresent,
      });
      const size = Math.min(input.importConcurrency, plan.batchCount - next);
      const tasks: Task[] = Array.from({ length: size }, (_, i) =>
        context.df.callActivityWithRetry('importBatch', activityRetry, { restoreId, targetMailboxId, batch: next + i }),
      );
      // A batch that failed outright is reported item by item by finishRestore.
      yield* settleWindow(context, tasks);
      next += size;
      windows++;
      if (windows >= input.windowsPerEpisode && next < plan.batchCount) {
        context.df.continueAsNew({ ...input, plan, nextBatch: next } satisfies RestoreMailboxInput);
        return undefined;
      }
    }
    context.df.setCustomStatus({ phase: 'reporting', batchesDone: plan.batchCount, batchCount: plan.batchCount });
    const report = (yield context.df.callActivityWithRetry('finishRestore', activityRetry, {
      restoreId,
      plan,
    })) as RestoreOutput;
    context.df.setCustomStatus({ phase: 'done', status: report.status });
    return report;
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]!.slice(0, 500);
    const report = (yield context.df.callActivityWithRetry('finishRestore', activityRetry, {
      restoreId,
      ...(plan ? { plan } : {}),
      error: reason,
    })) as RestoreOutput;
    context.df.setCustomStatus({ phase: 'done', status: report.status });
    return report;
  }
};

df.app.orchestration('restoreMailbox', restoreMailbox);
