import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { keyOf, snapshotIdFor } from '../shared/vault/layout.js';
import type { MailboxTarget, PlanSummary } from '../shared/backup/types.js';
import { settleWindow } from './windows.js';

/** Run-wide settings, resolved by the starter so orchestrators never read the environment. */
export interface BackupRunSettings {
  waveSize: number;
  exportConcurrency: number;
  windowsPerEpisode: number;
}

export interface BackupTenantInput {
  runId: string;
  trigger: 'timer' | 'http';
  startedAt: string;
  /** UPNs an admin asked for; the configured scope when absent. */
  mailboxes?: string[];
  settings: BackupRunSettings;
  /** Set by continueAsNew. */
  resolved?: { count: number };
  nextOffset?: number;
}

export interface BackupMailboxInput {
  runId: string;
  mailboxId: string;
  upn: string;
  snapshotId: string;
  startedAt: string;
  settings: BackupRunSettings;
  plan?: PlanSummary;
  nextBatch?: number;
  failedBatches?: Array<{ batch: number; reason: string }>;
}

export interface BackupMailboxOutput {
  upn: string;
  status: 'Completed' | 'CompletedWithErrors' | 'Failed';
  exported: number;
  failed: number;
}

export interface BackupRunOutput {
  runId: string;
  status: 'Completed' | 'CompletedWithErrors' | 'Failed';
  reportBlob: string;
  totals: Record<string, number>;
}

/** Activities run at least once: three attempts with backoff before a failure reaches the orchestrator. */
const activityRetry = new df.RetryOptions(5_000, 3);
activityRetry.backoffCoefficient = 2;

const MAILBOX_WAVES_PER_EPISODE = 10;

/**
 * Most consecutive batches one export activity takes (see backupMailbox). Each activity ends with a tail (its
 * last writes and its results) during which its slot has no call in flight, and each window waits for its
 * slowest activity: at 200 ms per call, 2 batches per activity reached 63 % of the ceiling, 4 reached 80 %,
 * 6 reached 90–93 %, 10 reached 93 % with less spread (npm run bench). More would only lengthen the work a
 * failed activity repeats (at most 200 items, each written once whatever happens).
 */
const MAX_BATCHES_PER_ACTIVITY = 10;

/**
 * The tenant run: resolve the scope, back up mailboxes in waves of sub-orchestrations (each mailbox has its own
 * Graph budget), continue as new every few waves so history stays small, then write the run report.
 */
export const backupTenant: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput() as BackupTenantInput;
  const { runId, settings } = input;
  let resolved = input.resolved;
  if (!resolved) {
    resolved = (yield context.df.callActivityWithRetry('resolveMailboxes', activityRetry, {
      runId,
      mailboxes: input.mailboxes ?? null,
    })) as { count: number };
  }
  const snapshotId = snapshotIdFor(input.startedAt, runId);
  let waves = 0;
  for (let offset = input.nextOffset ?? 0; offset < resolved.count; offset += settings.waveSize) {
    context.df.setCustomStatus({ phase: 'backing up', mailboxesDone: offset, mailboxes: resolved.count });
    const wave = (yield context.df.callActivity('getMailboxWave', {
      runId,
      offset,
      count: settings.waveSize,
    })) as MailboxTarget[];
    const tasks = wave.map((target) =>
      context.df.callSubOrchestrator(
        'backupMailbox',
        {
          runId,
          mailboxId: target.mailboxId,
          upn: target.upn,
          snapshotId,
          startedAt: input.startedAt,
          settings,
        } satisfies BackupMailboxInput,
        `${runId}-${keyOf(target.mailboxId)}`,
      ),
    );
    yield context.df.Task.all(tasks);
    waves++;
    const next = offset + settings.waveSize;
    if (waves >= MAILBOX_WAVES_PER_EPISODE && next < resolved.count) {
      context.df.continueAsNew({ ...input, resolved, nextOffset: next } satisfies BackupTenantInput);
      return undefined;
    }
  }
  context.df.setCustomStatus({ phase: 'writing report', mailboxesDone: resolved.count, mailboxes: resolved.count });
  const report = (yield context.df.callActivityWithRetry('writeRunReport', activityRetry, {
    runId,
    trigger: input.trigger,
    startedAt: input.startedAt,
  })) as BackupRunOutput;
  context.df.setCustomStatus({
    phase: 'done',
    mailboxesDone: resolved.count,
    mailboxes: resolved.count,
    status: report.status,
  });
  return report;
};

/**
 * One mailbox: plan, export the batches in fixed windows (`Task.all` of at most the per-mailbox concurrency,
 * never a sliding window, durable-js #574), continue as new every few windows, then commit the snapshot.
 * It never fails: whatever goes wrong is recorded for the report, so one mailbox cannot sink the run.
 */
export const backupMailbox: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput() as BackupMailboxInput;
  const { runId, mailboxId, upn, settings } = input;
  try {
    let plan = input.plan;
    if (!plan)
      plan = (yield context.df.callActivityWithRetry('planMailbox', activityRetry, {
        runId,
        mailboxId,
        upn,
      })) as PlanSummary;
    const failedBatches = [...(input.failedBatches ?? [])];
    let next = input.nextBatch ?? 0;
    let windows = 0;
    while (next < plan.batchCount) {
      context.df.setCustomStatus({ upn, batchesDone: next, batchCount: plan.batchCount });
      // A window: at most `exportConcurrency` activities, so at most that many exportItems calls in flight for
      // the mailbox; each takes a few consecutive batches so its writes overlap its next call. What remains is
      // spread evenly, so the last window does not leave slots idle behind one long activity.
      const perActivity = Math.min(
        MAX_BATCHES_PER_ACTIVITY,
        Math.ceil((plan.batchCount - next) / settings.exportConcurrency),
      );
      const starts: number[] = [];
      for (
        let start = next, i = 0;
        i < settings.exportConcurrency && start < plan.batchCount;
        i++, start += perActivity
      )
        starts.push(start);
      const countFrom = (start: number) => Math.min(perActivity, plan!.batchCount - start);
      const size = Math.min(plan.batchCount, next + settings.exportConcurrency * perActivity) - next;
      const tasks: Task[] = starts.map((start) =>
        context.df.callActivityWithRetry('exportBatch', activityRetry, {
          runId,
          mailboxId,
          batch: start,
          count: countFrom(start),
          planVersion: plan!.planVersion,
        }),
      );
      for (const failure of yield* settleWindow(context, tasks)) {
        const start = starts[failure.index]!;
        for (let b = start; b < start + countFrom(start); b++) failedBatches.push({ batch: b, reason: failure.reason });
      }
      next += size;
      windows++;
      if (windows >= settings.windowsPerEpisode && next < plan.batchCount) {
        context.df.continueAsNew({ ...input, plan, nextBatch: next, failedBatches } satisfies BackupMailboxInput);
        return undefined;
      }
    }
    context.df.setCustomStatus({ upn, batchesDone: plan.batchCount, batchCount: plan.batchCount, phase: 'committing' });
    const result = (yield context.df.callActivityWithRetry('commitSnapshot', activityRetry, {
      runId,
      mailboxId,
      upn,
      snapshotId: input.snapshotId,
      takenAt: input.startedAt,
      startedAt: input.startedAt,
      planVersion: plan.planVersion,
      batchCount: plan.batchCount,
      failedBatches,
    })) as BackupMailboxOutput;
    return result;
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]!.slice(0, 500);
    yield context.df.callActivityWithRetry('recordMailboxFailure', activityRetry, {
      runId,
      mailboxId,
      upn,
      startedAt: input.startedAt,
      reason,
    });
    return { upn, status: 'Failed', exported: 0, failed: 0 } satisfies BackupMailboxOutput;
  }
};

df.app.orchestration('backupTenant', backupTenant);
df.app.orchestration('backupMailbox', backupMailbox);
