import pLimit from 'p-limit';
import { errorReason } from '../errors.js';
import { checkDeletions, type DeletionCheck } from '../massDeletion.js';
import { statusFrom } from '../status.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { readMailboxPage, readRunScope } from './runScope.js';
import type { MailboxRunResult, MailboxTarget, RunReport } from './types.js';

export interface RunReportInput {
  runId: string;
  trigger: 'timer' | 'http';
  startedAt: string;
  /** Why the run stopped before starting every mailbox (its wave could not be read): each one left names it. */
  stoppedBecause?: string;
}

/** Results read at once while a report page is gathered. */
const RESULT_READS_AT_ONCE = 16;

/** One page of the run report: its mailboxes' results in scope order, their deletion checks, and its tallies. */
export interface RunReportPage {
  page: number;
  mailboxes: MailboxRunResult[];
  /** Each backed-up mailbox's deletions judged against its history (massDeletion.ts), by mailbox id. */
  deletions: Record<string, DeletionCheck>;
  /** Why a mailbox's deletions could not be judged (its telemetry then carries no judgement). */
  deletionWarnings: string[];
}

/**
 * Gathers one page of the run's mailboxes into `runs/{id}/report/{page}.json`: each mailbox's recorded result (one
 * that recorded none did not finish, and is failed in its place) and its deletion check. Memory: one page.
 */
export async function writeRunReportPage(
  vault: VaultStore,
  input: RunReportInput,
  page: number,
  now: () => Date = () => new Date(),
): Promise<void> {
  const targets = await readMailboxPage(vault, input.runId, page);
  const limit = pLimit(RESULT_READS_AT_ONCE);
  const mailboxes = await Promise.all(
    targets.map((target) => limit(() => readMailboxResult(vault, input, target, now))),
  );
  const deletions: Record<string, DeletionCheck> = {};
  const deletionWarnings: string[] = [];
  await Promise.all(
    mailboxes
      .filter((m) => m.snapshotId !== null)
      .map((m) =>
        limit(async () => {
          try {
            deletions[m.mailboxId] = await checkDeletions(vault, input.runId, m);
          } catch (error) {
            deletionWarnings.push(`Could not check ${m.upn}'s deletions against its history: ${errorReason(error)}`);
          }
        }),
      ),
  );
  const record: RunReportPage = { page, mailboxes, deletions, deletionWarnings };
  await vault.writeJson(layout.runReportPage(input.runId, page), record);
}

/** A page written by writeRunReportPage; the report cannot be summed without it. */
export async function readRunReportPage(vault: VaultStore, runId: string, page: number): Promise<RunReportPage> {
  const record = await vault.readJson<RunReportPage>(layout.runReportPage(runId, page));
  if (!record) throw new Error(`Page ${page} of run ${runId}'s report has not been written`);
  return record;
}

/**
 * The run report, summed from its pages one at a time. A run of one page lists every mailbox in `mailboxes`, as
 * reports always did; a bigger run lists there the mailboxes that did not complete (up to a page of them), and
 * `pages` says where the rest are. The run is `CompletedWithErrors` when anything failed, `Failed` when nothing
 * was backed up.
 */
export async function writeRunReport(
  vault: VaultStore,
  input: RunReportInput,
  now: () => Date = () => new Date(),
): Promise<RunReport> {
  const scope = await readRunScope(vault, input.runId);
  const { warnings, refusedUsers = [], archives } = scope;
  const tally = newTally();
  const listed: MailboxRunResult[] = [];
  for (let page = 0; page < scope.pages; page++) {
    const { mailboxes } = await readRunReportPage(vault, input.runId, page);
    for (const result of mailboxes) {
      addToTally(tally, result);
      if (scope.pages === 1 || (result.status !== 'Completed' && listed.length < scope.pageSize)) listed.push(result);
    }
  }
  const report: RunReport = {
    runId: input.runId,
    kind: 'backup',
    trigger: input.trigger,
    startedAt: input.startedAt,
    finishedAt: now().toISOString(),
    status: runStatus(tally, refusedUsers.length),
    mailboxes: listed,
    ...(scope.pages > 1
      ? { pages: { count: scope.pages, pageSize: scope.pageSize, notCompleted: tally.notCompleted } }
      : {}),
    warnings,
    ...(archives ? { archives } : {}),
    totals: tally.totals,
  };
  await vault.writeJson(layout.runReport(input.runId), report);
  return report;
}

/** Each mailbox's recorded result; one that recorded none did not finish, and is failed in its place. */
async function readMailboxResult(
  vault: VaultStore,
  input: RunReportInput,
  target: MailboxTarget,
  now: () => Date,
): Promise<MailboxRunResult> {
  const result = await vault.readJson<MailboxRunResult>(layout.runMailboxResult(input.runId, target.mailboxId));
  return (
    result ??
    failedMailboxResult(
      target,
      { startedAt: input.startedAt, finishedAt: now().toISOString(), durationInMs: 0 },
      input.stoppedBecause
        ? `The run stopped before backing up this mailbox (${input.stoppedBecause}); no snapshot was committed`
        : 'The mailbox backup did not finish; no snapshot was committed',
    )
  );
}

interface Tally {
  totals: RunReport['totals'];
  notCompleted: number;
}

function newTally(): Tally {
  const totals = {
    mailboxes: 0,
    failedMailboxes: 0,
    itemsExported: 0,
    itemsFailed: 0,
    bytesExported: 0,
    throttledResponses: 0,
    throttleWaitInMs: 0,
  };
  return { totals, notCompleted: 0 };
}

function addToTally(tally: Tally, r: MailboxRunResult): void {
  const { totals } = tally;
  totals.mailboxes++;
  if (r.status === 'Failed') totals.failedMailboxes++;
  if (r.status !== 'Completed') tally.notCompleted++;
  totals.itemsExported += r.items.exported;
  totals.itemsFailed += r.items.failed;
  totals.bytesExported += r.bytesExported;
  totals.throttledResponses += r.throttling.responses;
  totals.throttleWaitInMs += r.throttling.waitInMs;
}

/**
 * `Failed` when nothing in scope was backed up (every mailbox failed, or Graph refused every user); a user whose
 * mailbox Graph would not name is not backed up, so it counts against `Completed` like a failed mailbox.
 */
function runStatus({ totals, notCompleted }: Tally, refusedUsers: number): RunReport['status'] {
  if (totals.mailboxes + refusedUsers > 0 && totals.failedMailboxes === totals.mailboxes) return 'Failed';
  return statusFrom(notCompleted + refusedUsers);
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
 * A mailbox another backup run owned when this one reached it, or had backed up since this one started
 * (`newerSnapshotId`): no snapshot from this run, the other run's covers the mailbox. Not a failure, but not
 * `Completed` either: the admin asked for a backup that did not run.
 */
export async function recordMailboxSkipped(
  vault: VaultStore,
  runId: string,
  target: MailboxTarget,
  startedAt: string,
  skippedFor: { runningRun: string; newerSnapshotId?: string | undefined },
  now: () => Date = () => new Date(),
): Promise<void> {
  const { runningRun, newerSnapshotId } = skippedFor;
  const finishedAt = now();
  const time = {
    startedAt,
    finishedAt: finishedAt.toISOString(),
    durationInMs: finishedAt.getTime() - Date.parse(startedAt),
  };
  const reason = newerSnapshotId
    ? `Skipped: backup ${runningRun}, started after this one, has backed this mailbox up since (snapshot ${newerSnapshotId}); its snapshot covers it`
    : `Skipped: backup ${runningRun} was already backing up this mailbox; its snapshot covers it`;
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
