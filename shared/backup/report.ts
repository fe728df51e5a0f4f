import { statusFrom } from '../status.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { ResolvedScope } from './scope.js';
import type { MailboxRunResult, MailboxTarget, RunReport } from './types.js';

export interface RunReportInput {
  runId: string;
  trigger: 'timer' | 'http';
  startedAt: string;
  /** Why the run stopped before starting every mailbox (its wave could not be read): each one left names it. */
  stoppedBecause?: string;
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
  const { mailboxes, warnings, refusedUsers = [], archives } = await readRunMailboxes(vault, input.runId);
  const results = await readMailboxResults(vault, input, mailboxes, now);
  const report: RunReport = {
    runId: input.runId,
    kind: 'backup',
    trigger: input.trigger,
    startedAt: input.startedAt,
    finishedAt: now().toISOString(),
    status: runStatus(results, refusedUsers.length),
    mailboxes: results,
    warnings,
    ...(archives ? { archives } : {}),
    totals: runTotals(results),
  };
  await vault.writeJson(layout.runReport(input.runId), report);
  return report;
}

/** Each mailbox's recorded result; one that recorded none did not finish, and is failed in its place. */
async function readMailboxResults(
  vault: VaultStore,
  input: RunReportInput,
  mailboxes: MailboxTarget[],
  now: () => Date,
): Promise<MailboxRunResult[]> {
  const results: MailboxRunResult[] = [];
  for (const target of mailboxes) {
    const result = await vault.readJson<MailboxRunResult>(layout.runMailboxResult(input.runId, target.mailboxId));
    results.push(
      result ??
        failedMailboxResult(
          target,
          { startedAt: input.startedAt, finishedAt: now().toISOString(), durationInMs: 0 },
          input.stoppedBecause
            ? `The run stopped before backing up this mailbox (${input.stoppedBecause}); no snapshot was committed`
            : 'The mailbox backup did not finish; no snapshot was committed',
        ),
    );
  }
  return results;
}

/** `Failed` when every mailbox failed; any mailbox not `Completed` makes the run `CompletedWithErrors`. */
/**
 * `Failed` when nothing in scope was backed up (every mailbox failed, or Graph refused every user); a user whose
 * mailbox Graph would not name is not backed up, so it counts against `Completed` like a failed mailbox.
 */
function runStatus(results: MailboxRunResult[], refusedUsers: number): RunReport['status'] {
  const failedMailboxes = results.filter((r) => r.status === 'Failed').length;
  if (results.length + refusedUsers > 0 && failedMailboxes === results.length) return 'Failed';
  return statusFrom(results.filter((r) => r.status !== 'Completed').length + refusedUsers);
}

function runTotals(results: MailboxRunResult[]): RunReport['totals'] {
  return {
    mailboxes: results.length,
    failedMailboxes: results.filter((r) => r.status === 'Failed').length,
    itemsExported: results.reduce((s, r) => s + r.items.exported, 0),
    itemsFailed: results.reduce((s, r) => s + r.items.failed, 0),
    bytesExported: results.reduce((s, r) => s + r.bytesExported, 0),
    throttledResponses: results.reduce((s, r) => s + r.throttling.responses, 0),
    throttleWaitInMs: results.reduce((s, r) => s + r.throttling.waitInMs, 0),
  };
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
  const result = failedMailboxResult(
    target,
    { startedAt, finishedAt: finishedAt.toISOString(), durationInMs: finishedAt.getTime() - Date.parse(startedAt) },
    reason,
  );
  await vault.writeJson(layout.runMailboxResult(runId, target.mailboxId), result);
}

/**
 * A mailbox another backup run owned when this one reached it: no snapshot from this run, the running one
 * covers the mailbox. Not a failure, but not `Completed` either: the admin asked for a backup that did not run.
 */
export async function recordMailboxSkipped(
  vault: VaultStore,
  runId: string,
  target: MailboxTarget,
  startedAt: string,
  runningRun: string,
  now: () => Date = () => new Date(),
): Promise<void> {
  const finishedAt = now();
  const time = {
    startedAt,
    finishedAt: finishedAt.toISOString(),
    durationInMs: finishedAt.getTime() - Date.parse(startedAt),
  };
  const reason = `Skipped: backup ${runningRun} was already backing up this mailbox; its snapshot covers it`;
  const result: MailboxRunResult = {
    ...failedMailboxResult(target, time, reason),
    status: 'CompletedWithErrors',
    skippedFor: runningRun,
  };
  await vault.writeJson(layout.runMailboxResult(runId, target.mailboxId), result);
}

/** A mailbox result with nothing backed up and no snapshot, saying why. */
function failedMailboxResult(
  target: MailboxTarget,
  time: Pick<MailboxRunResult, 'startedAt' | 'finishedAt' | 'durationInMs'>,
  error: string,
): MailboxRunResult {
  return {
    upn: target.upn,
    mailboxId: target.mailboxId,
    ...(target.archiveOf ? { archiveOf: target.archiveOf } : {}),
    status: 'Failed',
    snapshotId: null,
    startedAt: time.startedAt,
    finishedAt: time.finishedAt,
    durationInMs: time.durationInMs,
    items: { inSnapshot: 0, exported: 0, alreadyStored: 0, failed: 0, removed: 0, changed: 0 },
    bytesExported: 0,
    throttling: { responses: 0, waitInMs: 0 },
    failedFolders: [],
    failures: [],
    error,
  };
}
