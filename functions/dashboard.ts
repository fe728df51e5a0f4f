import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { SETTINGS } from '../shared/config.js';
import { backupReportsSince, recentScopeWarnings } from '../shared/portal/backupReports.js';
import { listMailboxFreshness, promisedMaxAgeMs, type MailboxFreshness } from '../shared/portal/mailboxFreshness.js';
import { nightlyTotals } from '../shared/portal/nightlyTotals.js';
import { listRecentRuns, type RunKind } from '../shared/portal/runHistory.js';
import { unusualNightsIn } from '../shared/portal/unusualNights.js';
import { latestVerification } from '../shared/portal/verificationProblems.js';
import { getServices } from '../shared/services.js';
import { problem, registerApiRoute } from './http.js';
import { countParam } from './queryParams.js';

const RUN_KINDS: RunKind[] = ['backup', 'restore', 'maintenance'];

/** The backup schedule in force, and the age a newest snapshot may reach under it. */
async function scheduleInForce(now: Date): Promise<{ schedule: string; maxAgeMs: number }> {
  const { config } = await getServices();
  const schedule = config.backup.schedule || SETTINGS.MAILBOX_VAULT_BACKUP_SCHEDULE.default!;
  return { schedule, maxAgeMs: promisedMaxAgeMs(schedule, now) };
}

/**
 * Every mailbox in the vault with its newest snapshot and age, and every user of the backup scope the vault has
 * no snapshot of: stale, unless the newest backup's warnings say why (a user without a mailbox), which is noted.
 */
async function mailboxesWithScope(now: Date, maxAgeMs: number): Promise<MailboxFreshness[]> {
  const { config, vault } = await getServices();
  const inVault = await listMailboxFreshness(vault, now, maxAgeMs);
  const known = new Set(inVault.map((m) => m.upn.toLowerCase()));
  const missing = config.backup.scope.users.filter((upn) => !known.has(upn.toLowerCase()));
  if (!missing.length) return inVault;
  const warnings = await recentScopeWarnings(vault);
  const never = missing.map((upn) => {
    const note = warnings.find((w) => w.toLowerCase().includes(upn.toLowerCase()));
    return {
      mailboxId: null,
      upn,
      archiveOf: null,
      snapshots: 0,
      last: null,
      ageHours: null,
      stale: !note,
      ...(note ? { note } : {}),
    };
  });
  return [...inVault, ...never];
}

/** `GET /api/mailboxes`: the mailboxes an admin can open, each with its newest snapshot, age and staleness. */
export async function listMailboxes(): Promise<HttpResponseInit> {
  const now = new Date();
  const { schedule, maxAgeMs } = await scheduleInForce(now);
  const mailboxes = await mailboxesWithScope(now, maxAgeMs);
  return { status: 200, jsonBody: { schedule, maxAgeHours: maxAgeMs / 3_600_000, mailboxes } };
}

/**
 * `GET /api/dashboard?weeks=4&runs=20`: the newest runs of every kind with their counts and failures; each
 * mailbox's newest snapshot and age; items and bytes backed up per night; nights whose deletions or changes
 * jumped far above a mailbox's usual rate; and what the newest verification found.
 */
export async function dashboard(request: HttpRequest): Promise<HttpResponseInit> {
  const errors: string[] = [];
  const weeks = countParam(request, 'weeks', { min: 1, max: 26, default: 4 }, errors);
  const top = countParam(request, 'runs', { min: 1, max: 200, default: 20 }, errors);
  if (errors.length) return problem(400, 'The request is not valid', errors);
  const { vault } = await getServices();
  const now = new Date();
  const since = new Date(now.getTime() - weeks * 7 * 86_400_000);
  const { schedule, maxAgeMs } = await scheduleInForce(now);
  const [runs, mailboxes, reports, verification] = await Promise.all([
    listRecentRuns(vault, top, RUN_KINDS),
    mailboxesWithScope(now, maxAgeMs),
    backupReportsSince(vault, since),
    latestVerification(vault),
  ]);
  return {
    status: 200,
    jsonBody: {
      generatedAt: now.toISOString(),
      schedule,
      maxAgeHours: maxAgeMs / 3_600_000,
      runs,
      mailboxes,
      nights: nightlyTotals(reports, since, now),
      unusualNights: await unusualNightsIn(vault, reports),
      verification,
    },
  };
}

registerApiRoute('listMailboxes', 'GET', 'mailboxes', { role: 'reader' }, listMailboxes);
registerApiRoute('dashboard', 'GET', 'dashboard', { role: 'reader' }, dashboard);
