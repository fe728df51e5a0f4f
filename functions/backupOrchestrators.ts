import type { OrchestrationContext, Task } from 'durable-functions';
import type { BatchSummary, MailboxTarget, PlanSummary } from '../shared/backup/types.js';
import { errorReason } from '../shared/errors.js';
import { keyOf, snapshotIdFor } from '../shared/vault/layout.js';
import * as contracts from './contracts.js';
import type { BackupMailboxInput, BackupMailboxOutput, BackupTenantInput } from './contracts.js';
import {
  activityTask,
  callActivity,
  continueAsNew,
  registerOrchestration,
  subOrchestrationTask,
  type Orchestrator,
} from './durable.js';
import { settleWindow } from './windows.js';

const MAILBOX_WAVES_PER_EPISODE = 10;

/**
 * Most consecutive batches one export activity takes (see exportWindow). Each activity ends with a tail (its
 * last writes and its results) during which its slot has no call in flight, and each window waits for its
 * slowest activity, so an activity takes several batches; more would only lengthen the work a failed activity
 * repeats (at most 200 items, each written once whatever happens).
 */
const MAX_BATCHES_PER_ACTIVITY = 10;

/**
 * The tenant run: resolve the scope, back up mailboxes in waves of sub-orchestrations (each mailbox has its own
 * Graph budget), continue as new every few waves so history stays small, then write the run report.
 */
export const backupTenant: Orchestrator<BackupTenantInput, contracts.BackupRunOutput> = function* (context, input) {
  const { runId, settings, startedAt } = input;
  const resolved =
    input.resolved ??
    (yield* callActivity(context, contracts.resolveMailboxes, { runId, mailboxes: input.mailboxes ?? null }));
  const snapshotId = snapshotIdFor(startedAt, runId);
  let waves = 0;
  let stoppedBecause: string | undefined;
  for (let offset = input.nextOffset ?? 0; offset < resolved.count; offset += settings.waveSize) {
    context.df.setCustomStatus({ phase: 'backing up', mailboxesDone: offset, mailboxes: resolved.count });
    let wave: MailboxTarget[];
    try {
      wave = yield* callActivity(context, contracts.getMailboxWave, { runId, offset, count: settings.waveSize });
    } catch (error) {
      // Retried already (the activity retry policy): the report still comes, naming every mailbox not started.
      stoppedBecause = `reading its list of mailboxes failed: ${errorReason(error)}`;
      break;
    }
    const tasks = wave.map((target) => {
      const mailboxInput: BackupMailboxInput = { ...target, runId, snapshotId, startedAt, settings };
      return subOrchestrationTask(
        context,
        contracts.backupMailbox,
        mailboxInput,
        `${runId}-${keyOf(target.mailboxId)}`,
      );
    });
    yield context.df.Task.all(tasks);
    waves++;
    const next = offset + settings.waveSize;
    if (waves >= MAILBOX_WAVES_PER_EPISODE && next < resolved.count)
      return continueAsNew(context, contracts.backupTenant, { ...input, resolved, nextOffset: next });
  }
  const done = { mailboxesDone: resolved.count, mailboxes: resolved.count };
  context.df.setCustomStatus({ phase: 'writing report', ...done });
  const report = yield* callActivity(context, contracts.writeRunReport, {
    runId,
    trigger: input.trigger,
    startedAt,
    ...(stoppedBecause ? { stoppedBecause } : {}),
  });
  context.df.setCustomStatus({ phase: 'done', ...done, status: report.status });
  return report;
};

/**
 * One mailbox: plan, export the batches in fixed windows (`Task.all` of at most the per-mailbox concurrency,
 * never a sliding window, durable-js #574), continue as new every few windows, then commit the snapshot.
 * It never fails: whatever goes wrong is recorded for the report, so one mailbox cannot sink the run.
 */
export const backupMailbox: Orchestrator<BackupMailboxInput, BackupMailboxOutput> = function* (context, input) {
  const { runId, mailboxId, upn, settings } = input;
  const archive = input.archiveOf ? { archiveOf: input.archiveOf } : {};
  try {
    // One backup per mailbox at a time: the first episode claims it (continueAsNew carries the plan on).
    if (!input.plan) {
      const claim = yield* callActivity(context, contracts.claimMailbox, { runId, mailboxId });
      if (!claim.granted) return yield* skipMailbox(context, input, claim.runningRun);
    }
    const plan =
      input.plan ?? (yield* callActivity(context, contracts.planMailbox, { runId, mailboxId, upn, ...archive }));
    if (plan.refused) return yield* failMailbox(context, input, plan.refused);
    const failedBatches = [...(input.failedBatches ?? [])];
    let next = input.nextBatch ?? 0;
    for (let windows = 1; next < plan.batchCount; windows++) {
      context.df.setCustomStatus({ upn, batchesDone: next, batchCount: plan.batchCount });
      const window = yield* exportWindow(context, input, plan, next, failedBatches);
      // Graph refused the app this mailbox: no snapshot of failures, the mailbox fails with the reason.
      if (window.refused) return yield* failMailbox(context, input, window.refused);
      next = window.end;
      if (windows >= settings.windowsPerEpisode && next < plan.batchCount)
        return continueAsNew(context, contracts.backupMailbox, { ...input, plan, nextBatch: next, failedBatches });
    }
    context.df.setCustomStatus({ upn, batchesDone: plan.batchCount, batchCount: plan.batchCount, phase: 'committing' });
    return yield* callActivity(context, contracts.commitSnapshot, {
      runId,
      mailboxId,
      upn,
      ...archive,
      snapshotId: input.snapshotId,
      takenAt: input.startedAt,
      startedAt: input.startedAt,
      planVersion: plan.planVersion,
      batchCount: plan.batchCount,
      failedBatches,
    });
  } catch (error) {
    return yield* failMailbox(context, input, errorReason(error));
  }
};

/** Records that another run owns the mailbox, for the run report. */
function* skipMailbox(
  context: OrchestrationContext,
  input: BackupMailboxInput,
  runningRun: string,
): Generator<Task, BackupMailboxOutput, unknown> {
  const { runId, mailboxId, upn, startedAt } = input;
  const archive = input.archiveOf ? { archiveOf: input.archiveOf } : {};
  const record = { runId, mailboxId, upn, ...archive, startedAt, runningRun };
  yield* callActivity(context, contracts.recordMailboxSkipped, record);
  return { upn, status: 'CompletedWithErrors', exported: 0, failed: 0 };
}

/** Records why the mailbox failed, for the run report. */
function* failMailbox(
  context: OrchestrationContext,
  input: BackupMailboxInput,
  reason: string,
): Generator<Task, BackupMailboxOutput, unknown> {
  const { runId, mailboxId, upn, startedAt } = input;
  const archive = input.archiveOf ? { archiveOf: input.archiveOf } : {};
  yield* callActivity(context, contracts.recordMailboxFailure, {
    runId,
    mailboxId,
    upn,
    ...archive,
    startedAt,
    reason,
  });
  return { upn, status: 'Failed', exported: 0, failed: 0 };
}

/**
 * One window of export activities starting at batch `next`: at most `exportConcurrency` activities, so at most
 * that many exportItems calls in flight for the mailbox; each takes a few consecutive batches so its writes
 * overlap its next call. What remains is spread evenly, so the last window does not leave slots idle behind one
 * long activity. Batches of a failed activity are added to `failedBatches`; returns the next batch to export.
 */
function* exportWindow(
  context: OrchestrationContext,
  input: BackupMailboxInput,
  plan: PlanSummary,
  next: number,
  failedBatches: Array<{ batch: number; reason: string }>,
): Generator<Task, { end: number; refused?: string }, unknown> {
  const { exportConcurrency } = input.settings;
  const perActivity = Math.min(MAX_BATCHES_PER_ACTIVITY, Math.ceil((plan.batchCount - next) / exportConcurrency));
  const end = Math.min(plan.batchCount, next + exportConcurrency * perActivity);
  const starts: number[] = [];
  for (let start = next; start < end; start += perActivity) starts.push(start);
  const countFrom = (start: number) => Math.min(perActivity, plan.batchCount - start);
  const tasks = starts.map((start) =>
    activityTask(context, contracts.exportBatch, {
      runId: input.runId,
      mailboxId: input.mailboxId,
      batch: start,
      count: countFrom(start),
      planVersion: plan.planVersion,
    }),
  );
  for (const failure of yield* settleWindow(context, tasks)) {
    const start = starts[failure.index]!;
    for (let batch = start; batch < start + countFrom(start); batch++)
      failedBatches.push({ batch, reason: failure.reason });
  }
  const refused = tasks
    .map((task) => (task.isFaulted ? undefined : (task.result as BatchSummary | undefined)?.refused))
    .find((reason) => reason !== undefined);
  return refused ? { end, refused } : { end };
}

registerOrchestration(contracts.backupTenant, backupTenant);
registerOrchestration(contracts.backupMailbox, backupMailbox);
