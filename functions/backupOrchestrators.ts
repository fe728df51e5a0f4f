import type { OrchestrationContext, Task } from 'durable-functions';
import type { BatchSummary, MailboxTarget, PlanSummary } from '../shared/backup/types.js';
import { DEFAULT_PAGE_SIZE } from '../shared/backup/runScope.js';
import { errorReason } from '../shared/errors.js';
import { keyOf, snapshotIdFor } from '../shared/vault/layout.js';
import * as contracts from './contracts.js';
import type {
  BackupLaneInput,
  BackupMailboxInput,
  BackupMailboxOutput,
  BackupTenantInput,
  LaneOutput,
} from './contracts.js';
import {
  activityTask,
  callActivity,
  continueAsNew,
  registerOrchestration,
  subOrchestrationTask,
  type Orchestrator,
} from './durable.js';
import { settleWindow } from './windows.js';

/** Mailboxes a lane backs up before it continues as new: its history stays a few hundred events. */
const MAILBOXES_PER_LANE_EPISODE = 25;

/** Planning slices an episode of a mailbox's orchestration runs before it continues as new (2 events each). */
const PLAN_SLICES_PER_EPISODE = 50;

/** Commit slices an episode of a mailbox's orchestration runs before it continues as new (2 events each). */
const COMMIT_SLICES_PER_EPISODE = 50;

/** Report pages gathered at once (each reads a page of results and judges their deletions). */
const REPORT_PAGES_AT_ONCE = 4;

/**
 * Most consecutive batches one export activity takes (see exportWindow). Each activity ends with a tail (its
 * last writes and its results) during which its slot has no call in flight, and each window waits for its
 * slowest activity, so an activity takes several batches; more would only lengthen the work a failed activity
 * repeats (at most 200 items, each written once whatever happens).
 */
const MAX_BATCHES_PER_ACTIVITY = 10;

/**
 * The tenant run: resolve the scope into pages in the vault, back up its mailboxes in `waveSize` lanes (each lane
 * takes the next mailbox as soon as it finishes one, so a big mailbox holds up only its own lane and every lane
 * stays busy to the end), then gather the report page by page and sum it. Its history is a few events per lane
 * and per report page, whatever the number of mailboxes; its custom status is a fixed handful of numbers.
 */
export const backupTenant: Orchestrator<BackupTenantInput, contracts.BackupRunOutput> = function* (context, input) {
  const { runId, settings, startedAt, trigger } = input;
  const pageSize = settings.pageSize ?? DEFAULT_PAGE_SIZE;
  const scope = yield* callActivity(context, contracts.resolveMailboxes, {
    runId,
    mailboxes: input.mailboxes ?? null,
    pageSize,
  });
  const lanes = Math.min(settings.waveSize, scope.count);
  context.df.setCustomStatus({ phase: 'backing up', mailboxes: scope.count, lanes });
  const snapshotId = snapshotIdFor(startedAt, runId);
  const laneTasks = Array.from({ length: lanes }, (_, lane) => {
    const laneInput: BackupLaneInput = { runId, lane, snapshotId, startedAt, settings, scope };
    return subOrchestrationTask(context, contracts.backupLane, laneInput, `${runId}:lane${lane}`);
  });
  const laneResults = (laneTasks.length > 0 ? yield context.df.Task.all(laneTasks) : []) as LaneOutput[];
  // A lane that could not take its next mailbox stopped; the report names every mailbox left, and why.
  const stopped = laneResults.find((lane) => lane.stoppedBecause)?.stoppedBecause;
  const reportInput = { runId, trigger, startedAt, ...(stopped ? { stoppedBecause: stopped } : {}) };
  context.df.setCustomStatus({ phase: 'writing report', mailboxes: scope.count, reportPages: scope.pages });
  for (let first = 0; first < scope.pages; first += REPORT_PAGES_AT_ONCE) {
    const pages = Array.from({ length: Math.min(REPORT_PAGES_AT_ONCE, scope.pages - first) }, (_, i) => first + i);
    yield context.df.Task.all(
      pages.map((page) => activityTask(context, contracts.writeRunReportPage, { ...reportInput, page })),
    );
  }
  const report = yield* callActivity(context, contracts.writeRunReport, reportInput);
  context.df.setCustomStatus({ phase: 'done', mailboxes: scope.count, status: report.status });
  return report;
};

/**
 * One lane of a run: takes the next mailbox nobody has taken (from the run's cursor in the vault) and backs it up,
 * one after another, until none is left; continues as new every few mailboxes so its history stays small.
 */
export const backupLane: Orchestrator<BackupLaneInput, LaneOutput> = function* (context, input) {
  const { runId, lane, snapshotId, startedAt, settings, scope } = input;
  let taken = input.taken ?? 0;
  for (let inEpisode = 0; ; inEpisode++) {
    if (inEpisode >= (settings.mailboxesPerLaneEpisode ?? MAILBOXES_PER_LANE_EPISODE))
      return continueAsNew(context, contracts.backupLane, { ...input, taken });
    context.df.setCustomStatus({ lane, mailboxesDone: taken });
    let target: MailboxTarget | null;
    try {
      target = yield* callActivity(context, contracts.takeNextMailbox, { runId, lane, seq: taken, scope });
    } catch (error) {
      // Retried already (the activity retry policy): the lane stops, and the run still writes its report.
      return { mailboxes: taken, stoppedBecause: `taking its next mailbox failed: ${errorReason(error)}` };
    }
    if (!target) return { mailboxes: taken };
    const mailboxInput: BackupMailboxInput = { ...target, runId, snapshotId, startedAt, settings };
    // The instance id names the mailbox: claimMailbox finds a stale owner by it.
    const instanceId = `${runId}-${keyOf(target.mailboxId)}`;
    try {
      yield subOrchestrationTask(context, contracts.backupMailbox, mailboxInput, instanceId);
    } catch {
      // It records its own failures; one that could not is reported as not finished. The lane goes on.
    }
    taken++;
  }
};

/**
 * One mailbox: plan, export the batches in fixed windows (`Task.all` of at most the per-mailbox concurrency,
 * never a sliding window, durable-js #574), continue as new every few windows, then commit the snapshot.
 * It never fails: whatever goes wrong is recorded for the report, so one mailbox cannot sink the run.
 */
export const backupMailbox: Orchestrator<BackupMailboxInput, BackupMailboxOutput> = function* (context, input) {
  const { runId, mailboxId, upn, settings, startedAt } = input;
  try {
    // One backup per mailbox at a time, and never behind a newer snapshot: the first episode claims it
    // (continueAsNew carries the plan on).
    if (!input.plan && input.planSlice === undefined) {
      const claim = yield* callActivity(context, contracts.claimMailbox, { runId, mailboxId, startedAt });
      if (!claim.granted) return yield* skipMailbox(context, input, claim);
    }
    let plan = input.plan;
    if (!plan) {
      const planned = yield* planInSlices(context, input);
      if ('continueFrom' in planned)
        return continueAsNew(context, contracts.backupMailbox, { ...input, planSlice: planned.continueFrom });
      plan = planned.summary;
    }
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
        return continueAsNew(context, contracts.backupMailbox, {
          ...withoutPlanSlice(input),
          plan,
          nextBatch: next,
          failedBatches,
        });
    }
    const committed = yield* commitInSlices(context, input, plan, failedBatches);
    if ('continueFrom' in committed)
      return continueAsNew(context, contracts.backupMailbox, {
        ...withoutPlanSlice(input),
        plan,
        nextBatch: plan.batchCount,
        failedBatches,
        commitSlice: committed.continueFrom,
      });
    return committed.output;
  } catch (error) {
    return yield* failMailbox(context, input, errorReason(error));
  }
};

/**
 * Planning, slice after slice (each a bounded activity that checkpoints in the vault), until the plan is written;
 * after PLAN_SLICES_PER_EPISODE slices the episode hands the next slice's number on (continue as new), so a
 * mailbox of many folders keeps its history small. Only slice numbers and the final counts cross Durable.
 */
function* planInSlices(
  context: OrchestrationContext,
  input: BackupMailboxInput,
): Generator<Task, { summary: PlanSummary } | { continueFrom: number }, unknown> {
  const { runId, mailboxId, upn } = input;
  const archive = input.archiveOf ? { archiveOf: input.archiveOf } : {};
  let slice = input.planSlice ?? 0;
  for (let inEpisode = 0; inEpisode < PLAN_SLICES_PER_EPISODE; inEpisode++) {
    if (slice > 0) context.df.setCustomStatus({ upn, phase: 'planning', planSlice: slice });
    const result = yield* callActivity(context, contracts.planMailboxSlice, {
      runId,
      mailboxId,
      upn,
      ...archive,
      slice,
    });
    // An orchestration started before slices has the whole plan's counts in its history at this point.
    if ('planVersion' in result) return { summary: result as unknown as PlanSummary };
    if ('summary' in result) return { summary: result.summary };
    slice = result.nextSlice;
  }
  return { continueFrom: slice };
}

/**
 * The commit, slice after slice (each a bounded activity that checkpoints in the vault), as planning goes; after
 * COMMIT_SLICES_PER_EPISODE slices the episode hands the next slice's number on.
 */
function* commitInSlices(
  context: OrchestrationContext,
  input: BackupMailboxInput,
  plan: PlanSummary,
  failedBatches: Array<{ batch: number; reason: string }>,
): Generator<Task, { output: BackupMailboxOutput } | { continueFrom: number }, unknown> {
  const { runId, mailboxId, upn } = input;
  const { batchCount } = plan;
  const commitInput = {
    runId,
    mailboxId,
    upn,
    ...(input.archiveOf ? { archiveOf: input.archiveOf } : {}),
    snapshotId: input.snapshotId,
    takenAt: input.startedAt,
    startedAt: input.startedAt,
    planVersion: plan.planVersion,
    batchCount,
    failedBatches,
  };
  let slice = input.commitSlice ?? 0;
  for (let inEpisode = 0; inEpisode < COMMIT_SLICES_PER_EPISODE; inEpisode++) {
    context.df.setCustomStatus({ upn, batchesDone: batchCount, batchCount, phase: 'committing', commitSlice: slice });
    const result = yield* callActivity(context, contracts.commitSnapshotSlice, { ...commitInput, slice });
    // An orchestration started before commit slices has the whole commit's output in its history at this point.
    if ('upn' in result) return { output: result as unknown as BackupMailboxOutput };
    if ('output' in result) return { output: result.output };
    slice = result.nextSlice;
  }
  return { continueFrom: slice };
}

function withoutPlanSlice(input: BackupMailboxInput): BackupMailboxInput {
  const copy = { ...input };
  delete copy.planSlice;
  return copy;
}

/** Records that another run owns the mailbox, for the run report. */
function* skipMailbox(
  context: OrchestrationContext,
  input: BackupMailboxInput,
  claim: { runningRun: string; newerSnapshotId?: string },
): Generator<Task, BackupMailboxOutput, unknown> {
  const { runId, mailboxId, upn, startedAt } = input;
  const archive = input.archiveOf ? { archiveOf: input.archiveOf } : {};
  const newer = claim.newerSnapshotId ? { newerSnapshotId: claim.newerSnapshotId } : {};
  const record = { runId, mailboxId, upn, ...archive, startedAt, runningRun: claim.runningRun, ...newer };
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
registerOrchestration(contracts.backupLane, backupLane);
registerOrchestration(contracts.backupMailbox, backupMailbox);
