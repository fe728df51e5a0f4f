import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { ResolvedScope } from './scope.js';
import type { MailboxRunResult, MailboxTarget, RunReport } from './types.js';

export interface RunReportInput {
  runId: string;
  trigger: 'timer' | 'http';
  startedAt: string;
}

/** The run's resolved scope, as resolveMailboxes kept it in the run's folder (empty if it never got that far). */
export async function readRunMailboxes(vault: VaultStore, runId: string): Promise<ResolvedScope> {
  return (await vault.readJson<ResolvedScope>(layout.runMailboxes(runId))) ?? { mailboxes: [], warnings: [] };
}

/**
 * Gathers every mailbox's result into the run report. A mailbox with no result is reported as failed, never
 * skipped silently; the run is `CompletedWithErrors` when anything failed, `Failed` when nothing was backed up.
 */
export async function writeRunReport(
  vault: VaultStore,
  input: RunReportInput,
  now: () => Date = () => new Date(),
): Promise<RunReport> {
  const { mailboxes, warnings } = await readRunMailboxes(vault, input.runId);
  const results: MailboxRunResult[] = [];
  for (const target of mailboxes) {
    const result = await vault.readJson<MailboxRunResult>(layout.runMailboxResult(input.runId, target.mailboxId));
    results.push(
      result ?? {
        upn: target.upn,
        mailboxId: target.mailboxId,
        status: 'Failed',
        snapshotId: null,
        startedAt: input.startedAt,
        finishedAt: now().toISOString(),
        durationInMs: 0,
        items: { inSnapshot: 0, exported: 0, alreadyStored: 0, failed: 0, removed: 0, changed: 0 },
        bytesExported: 0,
        throttling: { responses: 0, waitInMs: 0 },
        failedFolders: [],
        failures: [],
        error: 'The mailbox backup did not finish; no snapshot was committed',
      },
    );
  }
  const failedMailboxes = results.filter((r) => r.status === 'Failed').length;
  const withErrors = results.some((r) => r.status !== 'Completed');
  const status: RunReport['status'] =
    results.length > 0 && failedMailboxes === results.length
      ? 'Failed'
      : withErrors
        ? 'CompletedWithErrors'
        : 'Completed';
  const report: RunReport = {
    runId: input.runId,
    kind: 'backup',
    trigger: input.trigger,
    startedAt: input.startedAt,
    finishedAt: now().toISOString(),
    status,
    mailboxes: results,
    warnings,
    totals: {
      mailboxes: results.length,
      failedMailboxes,
      itemsExported: results.reduce((s, r) => s + r.items.exported, 0),
      itemsFailed: results.reduce((s, r) => s + r.items.failed, 0),
      bytesExported: results.reduce((s, r) => s + r.bytesExported, 0),
      throttledResponses: results.reduce((s, r) => s + r.throttling.responses, 0),
      throttleWaitInMs: results.reduce((s, r) => s + r.throttling.waitInMs, 0),
    },
  };
  await vault.writeJson(layout.runReport(input.runId), report);
  return report;
}

/** A mailbox whose backup failed outright (planning or commit): recorded so the report names it and why. */
export async function recordMailboxFailure(
  vault: VaultStore,
  runId: string,
  target: MailboxTarget,
  startedAt: string,
  reason: string,
  now: () => Date = () => new Date(),
): Promise<void> {
  const existing = await vault.readJson<MailboxRunResult>(layout.runMailboxResult(runId, target.mailboxId));
  if (existing) return;
  const finishedAt = now();
  const result: MailboxRunResult = {
    upn: target.upn,
    mailboxId: target.mailboxId,
    status: 'Failed',
    snapshotId: null,
    startedAt,
    finishedAt: finishedAt.toISOString(),
    durationInMs: finishedAt.getTime() - Date.parse(startedAt),
    items: { inSnapshot: 0, exported: 0, alreadyStored: 0, failed: 0, removed: 0, changed: 0 },
    bytesExported: 0,
    throttling: { responses: 0, waitInMs: 0 },
    failedFolders: [],
    failures: [],
    error: reason,
  };
  await vault.writeJson(layout.runMailboxResult(runId, target.mailboxId), result);
}
