import * as df from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import { commitSnapshot } from '../shared/backup/commit.js';
import { exportBatch, type ExportBatchInput } from '../shared/backup/exportBatch.js';
import { planMailbox } from '../shared/backup/plan.js';
import { recordMailboxFailure, writeRunReport } from '../shared/backup/report.js';
import { resolveMailboxes } from '../shared/backup/scope.js';
import type { BatchSummary, MailboxRunResult, MailboxTarget, PlanSummary } from '../shared/backup/types.js';
import { getServices } from '../shared/services.js';
import { layout } from '../shared/vault/layout.js';
import type { BackupMailboxOutput, BackupRunOutput } from './backupOrchestrators.js';

interface RunMailboxes {
  mailboxes: MailboxTarget[];
  warnings: string[];
}

/** Scope → mailbox ids, kept in the run's folder; only the count goes back through Durable. */
export async function resolveMailboxesActivity(
  input: { runId: string; mailboxes: string[] | null },
  context: InvocationContext,
): Promise<{ count: number }> {
  const { config, graph, vault } = await getServices();
  const resolved = await resolveMailboxes(graph, config.backup.scope, input.mailboxes ?? undefined);
  await vault.writeJson(layout.runMailboxes(input.runId), resolved satisfies RunMailboxes);
  for (const warning of resolved.warnings) context.warn(warning);
  return { count: resolved.mailboxes.length };
}

export async function getMailboxWaveActivity(input: {
  runId: string;
  offset: number;
  count: number;
}): Promise<MailboxTarget[]> {
  const { vault } = await getServices();
  const run = await vault.readJson<RunMailboxes>(layout.runMailboxes(input.runId));
  return (run?.mailboxes ?? []).slice(input.offset, input.offset + input.count);
}

export async function planMailboxActivity(input: {
  runId: string;
  mailboxId: string;
  upn: string;
}): Promise<PlanSummary> {
  const { config, graph, vault } = await getServices();
  return planMailbox(
    graph,
    vault,
    { maxItemsPerBatch: 20, batchReportedBytes: config.backup.batchReportedBytes },
    input,
  );
}

export async function exportBatchActivity(input: ExportBatchInput, context: InvocationContext): Promise<BatchSummary> {
  const { graph, vault } = await getServices();
  return exportBatch(graph, vault, input, { info: (m) => context.log(m), warn: (m) => context.warn(m) });
}

export async function commitSnapshotActivity(
  input: Parameters<typeof commitSnapshot>[1],
): Promise<BackupMailboxOutput> {
  const { vault } = await getServices();
  const result: MailboxRunResult = await commitSnapshot(vault, input);
  return { upn: result.upn, status: result.status, exported: result.items.exported, failed: result.items.failed };
}

export async function recordMailboxFailureActivity(input: {
  runId: string;
  mailboxId: string;
  upn: string;
  startedAt: string;
  reason: string;
}): Promise<null> {
  const { vault } = await getServices();
  await recordMailboxFailure(
    vault,
    input.runId,
    { mailboxId: input.mailboxId, upn: input.upn },
    input.startedAt,
    input.reason,
  );
  return null;
}

export async function writeRunReportActivity(input: {
  runId: string;
  trigger: 'timer' | 'http';
  startedAt: string;
}): Promise<BackupRunOutput> {
  const { vault } = await getServices();
  const run = await vault.readJson<RunMailboxes>(layout.runMailboxes(input.runId));
  const report = await writeRunReport(vault, {
    ...input,
    mailboxes: run?.mailboxes ?? [],
    warnings: run?.warnings ?? [],
  });
  return {
    runId: input.runId,
    status: report.status,
    reportBlob: layout.runReport(input.runId),
    totals: report.totals,
  };
}

df.app.activity('resolveMailboxes', { handler: resolveMailboxesActivity });
df.app.activity('getMailboxWave', { handler: getMailboxWaveActivity });
df.app.activity('planMailbox', { handler: planMailboxActivity });
df.app.activity('exportBatch', { handler: exportBatchActivity });
df.app.activity('commitSnapshot', { handler: commitSnapshotActivity });
df.app.activity('recordMailboxFailure', { handler: recordMailboxFailureActivity });
df.app.activity('writeRunReport', { handler: writeRunReportActivity });
