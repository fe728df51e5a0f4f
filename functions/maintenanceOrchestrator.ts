import * as contracts from './contracts.js';
import type { MaintenanceInput, MaintenanceMailboxInput } from './contracts.js';
import {
  activityTask,
  callActivity,
  continueAsNew,
  registerOrchestration,
  type ActivityContract,
  type Orchestrator,
} from './durable.js';
import { settleWindow } from './windows.js';

const MAILBOXES_AT_ONCE = 4;

/**
 * Windows of mailboxes per execution when the input does not say: the history stays a few hundred events, whatever
 * the vault's size.
 */
const WINDOWS_PER_EPISODE = 25;

/**
 * Vault maintenance: prune by the retention policy (or report what it would free), with the run and restore
 * artifacts past it, then verify, one mailbox per activity in fixed windows, continuing as new every few windows,
 * then the report. Orchestrator code reads no clock: "now" is the start time.
 */
export const vaultMaintenance: Orchestrator<MaintenanceInput, { status: string; reportBlob: string }> = function* (
  context,
  input,
) {
  const { resume, ...run } = input;
  const count =
    resume?.count ??
    (yield* callActivity(context, contracts.listVaultMailboxes, {
      id: run.id,
      mailboxKeys: run.mailboxKeys,
      startedAt: run.startedAt,
    })).count;
  const steps = (['prune', 'verify'] as const).filter((step) => run[step]);
  const windowsPerEpisode = run.windowsPerEpisode ?? WINDOWS_PER_EPISODE;
  for (const step of steps.slice(resume ? steps.indexOf(resume.step) : 0)) {
    const activity: ActivityContract<MaintenanceMailboxInput, unknown> =
      step === 'prune' ? contracts.pruneVaultMailbox : contracts.verifyVaultMailbox;
    const from = resume?.step === step ? resume.offset : 0;
    for (let offset = from, windows = 0; offset < count; offset += MAILBOXES_AT_ONCE, windows++) {
      if (windows >= windowsPerEpisode)
        return continueAsNew(context, contracts.vaultMaintenance, { ...run, resume: { step, offset, count } });
      context.df.setCustomStatus({ phase: step, mailboxesDone: offset, mailboxes: count });
      const end = Math.min(count, offset + MAILBOXES_AT_ONCE);
      const tasks = [];
      for (let index = offset; index < end; index++) tasks.push(activityTask(context, activity, { ...run, index }));
      // A mailbox that failed is recorded by its activity (or reported as missing).
      yield* settleWindow(context, tasks);
    }
    if (step === 'prune') {
      context.df.setCustomStatus({ phase: 'expiring run artifacts', mailboxesDone: count, mailboxes: count });
      // Recorded by its activity, or reported as missing: it never sinks the run.
      yield* settleWindow(context, [activityTask(context, contracts.expireRunArtifacts, run)]);
    }
  }
  context.df.setCustomStatus({ phase: 'reporting', mailboxesDone: count, mailboxes: count });
  const report = yield* callActivity(context, contracts.writeMaintenanceReport, run);
  context.df.setCustomStatus({ phase: 'done', mailboxesDone: count, mailboxes: count, status: report.status });
  return report;
};

registerOrchestration(contracts.vaultMaintenance, vaultMaintenance);
