import * as contracts from './contracts.js';
import type { MaintenanceInput, MaintenanceMailboxInput } from './contracts.js';
import {
  activityTask,
  callActivity,
  registerOrchestration,
  type ActivityContract,
  type Orchestrator,
} from './durable.js';
import { settleWindow } from './windows.js';

const MAILBOXES_AT_ONCE = 4;

/**
 * Vault maintenance: prune by the retention policy (or report what it would free), with the run and restore
 * artifacts past it, then verify, one mailbox per activity in fixed windows, then the report. Orchestrator code reads no clock: "now" is the start time.
 */
export const vaultMaintenance: Orchestrator<MaintenanceInput, { status: string; reportBlob: string }> = function* (
  context,
  input,
) {
  const { count } = yield* callActivity(context, contracts.listVaultMailboxes, {
    id: input.id,
    mailboxKeys: input.mailboxKeys,
  });
  for (const step of ['prune', 'verify'] as const) {
    if (!input[step]) continue;
    const activity: ActivityContract<MaintenanceMailboxInput, unknown> =
      step === 'prune' ? contracts.pruneVaultMailbox : contracts.verifyVaultMailbox;
    for (let offset = 0; offset < count; offset += MAILBOXES_AT_ONCE) {
      context.df.setCustomStatus({ phase: step, mailboxesDone: offset, mailboxes: count });
      const end = Math.min(count, offset + MAILBOXES_AT_ONCE);
      const tasks = [];
      for (let index = offset; index < end; index++) tasks.push(activityTask(context, activity, { ...input, index }));
      // A mailbox that failed is recorded by its activity (or reported as missing).
      yield* settleWindow(context, tasks);
    }
    if (step === 'prune') {
      context.df.setCustomStatus({ phase: 'expiring run artifacts', mailboxesDone: count, mailboxes: count });
      // Recorded by its activity, or reported as missing: it never sinks the run.
      yield* settleWindow(context, [activityTask(context, contracts.expireRunArtifacts, input)]);
    }
  }
  context.df.setCustomStatus({ phase: 'reporting', mailboxesDone: count, mailboxes: count });
  const report = yield* callActivity(context, contracts.writeMaintenanceReport, input);
  context.df.setCustomStatus({ phase: 'done', mailboxesDone: count, mailboxes: count, status: report.status });
  return report;
};

registerOrchestration(contracts.vaultMaintenance, vaultMaintenance);
