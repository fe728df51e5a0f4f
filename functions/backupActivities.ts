import type { InvocationContext } from '@azure/functions';
import { commitSnapshot, commitSnapshotSlice } from '../shared/backup/commit.js';
import type { MailboxRunResult } from '../shared/backup/types.js';
import { exportBatch } from '../shared/backup/exportBatch.js';
import { DEFAULT_SLICE_BUDGET, planMailbox, planMailboxSlice, type PlanSettings } from '../shared/backup/plan.js';
import type { BackupConfig } from '../shared/config.js';
import { takeNextMailbox } from '../shared/backup/lanes.js';
import {
  recordMailboxFailure,
  recordMailboxSkipped,
  writeRunReport,
  writeRunReportPage,
} from '../shared/backup/report.js';
import { readMailboxAt, writeRunScope } from '../shared/backup/runScope.js';
import { resolveMailboxes } from '../shared/backup/scope.js';
import { getServices } from '../shared/services.js';
import { emitBackupTelemetry } from '../shared/telemetry.js';
import { keyOf, layout } from '../shared/vault/layout.js';
import { claimMailbox, releaseClaim, withMailboxLease } from '../shared/vault/mailboxOwner.js';
import * as contracts from './contracts.js';
import { durableClientOf, instanceHasEnded, registerActivity } from './durable.js';

registerActivity(contracts.resolveMailboxes, async (input, context: InvocationContext) => {
  const { config, graph, vault } = await getServices();
  const options = { archives: config.backup.archives };
  const resolved = await resolveMailboxes(graph, config.backup.scope, input.mailboxes ?? undefined, options);
  const { count, pageSize, pages } = await writeRunScope(vault, input.runId, resolved, input.pageSize);
  for (const warning of resolved.warnings) context.warn(warning);
  return { count, pageSize, pages };
});

registerActivity(contracts.takeNextMailbox, async (input) => {
  const { vault } = await getServices();
  const { runId, lane, seq, scope } = input;
  const index = await takeNextMailbox(vault, runId, { lane, seq, count: scope.count });
  return index === null ? null : readMailboxAt(vault, runId, scope, index);
});

registerActivity(contracts.writeRunReportPage, async (input) => {
  const { vault } = await getServices();
  await writeRunReportPage(vault, input, input.page);
  return null;
});

const planSettings = (backup: BackupConfig): PlanSettings => ({
  maxItemsPerBatch: 20,
  batchReportedBytes: backup.batchReportedBytes,
  recoverableItems: backup.recoverableItems,
  sliceBudget: { ...DEFAULT_SLICE_BUDGET, items: backup.planSliceItems },
});

registerActivity(contracts.planMailbox, async (input, context) => {
  const { config, graph, vault } = await getServices();
  return planMailbox(graph, vault, planSettings(config.backup), input, { warn: (m) => context.warn(m) });
});

registerActivity(contracts.planMailboxSlice, async (input, context) => {
  const { config, graph, vault } = await getServices();
  return planMailboxSlice(graph, vault, planSettings(config.backup), input, { warn: (m) => context.warn(m) });
});

registerActivity(contracts.exportBatch, async (input, context) => {
  const { graph, vault, plans } = await getServices();
  return exportBatch(graph, vault, input, { info: (m) => context.log(m), warn: (m) => context.warn(m) }, plans);
});

registerActivity(contracts.commitSnapshot, async (input) => {
  const { config, vault } = await getServices();
  return mailboxOutput(
    await commitSnapshot(vault, input, undefined, { sliceRecords: config.backup.commitSliceRecords }),
  );
});

registerActivity(contracts.commitSnapshotSlice, async (input) => {
  const { config, vault } = await getServices();
  const step = await commitSnapshotSlice(vault, input, undefined, { sliceRecords: config.backup.commitSliceRecords });
  return 'result' in step ? { output: mailboxOutput(step.result) } : step;
});

/** What the orchestration keeps of a mailbox's result (the rest is in the vault). */
function mailboxOutput(result: MailboxRunResult): contracts.BackupMailboxOutput {
  return { upn: result.upn, status: result.status, exported: result.items.exported, failed: result.items.failed };
}

registerActivity(
  contracts.claimMailbox,
  async (input, context) => {
    const { vault } = await getServices();
    const mailboxKey = keyOf(input.mailboxId);
    const client = durableClientOf(context);
    // The holder's backupMailbox instance (backupOrchestrators.ts names it): ended without a result = stale.
    const hasEnded = (runId: string) => instanceHasEnded(client, `${runId}-${mailboxKey}`);
    return claimMailbox(vault, mailboxKey, input.runId, new Date(), {
      hasEnded,
      ...(input.startedAt ? { startedAt: input.startedAt } : {}),
    });
  },
  { durableClient: true },
);

registerActivity(contracts.recordMailboxSkipped, async (input) => {
  const { vault } = await getServices();
  const { runId, mailboxId, upn, archiveOf, startedAt, runningRun, newerSnapshotId } = input;
  const target = { mailboxId, upn, ...(archiveOf ? { archiveOf } : {}) };
  await recordMailboxSkipped(vault, runId, target, startedAt, { runningRun, newerSnapshotId });
  return null;
});

registerActivity(contracts.recordMailboxFailure, async (input) => {
  const { vault } = await getServices();
  const { runId, mailboxId, upn, archiveOf, startedAt, reason } = input;
  await recordMailboxFailure(vault, runId, { mailboxId, upn, ...(archiveOf ? { archiveOf } : {}) }, startedAt, reason);
  // The result is written first, so a claim this cannot release (a crash, a long prune) is stale anyway.
  await withMailboxLease(vault, keyOf(mailboxId), (held) => releaseClaim(held, runId)).catch(() => undefined);
  return null;
});

registerActivity(contracts.writeRunReport, async (input, context) => {
  const { vault } = await getServices();
  const report = await writeRunReport(vault, input);
  await emitBackupTelemetry(vault, report, { info: (m) => context.log(m), warn: (m) => context.warn(m) });
  return {
    runId: input.runId,
    status: report.status,
    reportBlob: layout.runReport(input.runId),
    totals: report.totals,
  };
});
