import type { OrchestrationContext, Task } from 'durable-functions';
import { errorReason } from '../shared/errors.js';
import type { RestorePlanSummary } from '../shared/restore/types.js';
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
      const planned = yield* planInSlices(context, input);
      if ('continueFrom' in planned)
        return continueAsNew(context, contracts.restoreMailbox, { ...input, planSlice: planned.continueFrom });
      plan = planned.summary;
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
        return continueAsNew(context, contracts.restoreMailbox, { ...withoutPlanSlice(input), plan, nextBatch: next });
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

/** Planning slices an episode runs before it continues as new (each adds two events to the history). */
const PLAN_SLICES_PER_EPISODE = 50;

/**
 * The restore's plan, slice after slice (each a bounded activity that checkpoints in the vault), until it is
 * written; after PLAN_SLICES_PER_EPISODE slices the episode hands the next slice's number on. Only slice numbers
 * and the final counts cross Durable.
 */
function* planInSlices(
  context: OrchestrationContext,
  input: RestoreMailboxInput,
): Generator<Task, { summary: RestorePlanSummary } | { continueFrom: number }, unknown> {
  let slice = input.planSlice ?? 0;
  for (let inEpisode = 0; inEpisode < PLAN_SLICES_PER_EPISODE; inEpisode++) {
    context.df.setCustomStatus(slice > 0 ? { phase: 'planning', planSlice: slice } : { phase: 'planning' });
    const step = yield* callActivity(context, contracts.planRestoreSlice, { restoreId: input.restoreId, slice });
    // A restore started before plans were sliced has the one-activity plan's counts in its history at this point.
    if ('batchCount' in step) return { summary: step as unknown as RestorePlanSummary };
    if ('summary' in step) return { summary: step.summary };
    slice = step.nextSlice;
  }
  return { continueFrom: slice };
}

function withoutPlanSlice(input: RestoreMailboxInput): RestoreMailboxInput {
  const copy = { ...input };
  delete copy.planSlice;
  return copy;
}

registerOrchestration(contracts.restoreMailbox, restoreMailbox);
