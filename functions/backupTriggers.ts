import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { mailboxesTaken } from '../shared/backup/lanes.js';
import { readRunReportPage } from '../shared/backup/report.js';
import type { RunReport } from '../shared/backup/types.js';
import { loadConfig } from '../shared/config.js';
import { errorReason } from '../shared/errors.js';
import { upnSchema } from '../shared/mailbox/index.js';
import { getServices } from '../shared/services.js';
import { compactTime, layout } from '../shared/vault/layout.js';
import * as contracts from './contracts.js';
import type { BackupRunSettings, BackupTenantInput } from './contracts.js';
import { findInstance, startOrchestration } from './durable.js';
import { authorizeBackup } from '../shared/access/policy.js';
import {
  accepted,
  answerFromReport,
  notInVault,
  auditCall,
  idParam,
  problem,
  readJsonBody,
  registerApiRoute,
  registerDurableApiRoute,
} from './http.js';
import { startScheduledRun } from './schedule.js';

const RUN_ID = /^backup-\d{8}T\d{6}Z(-[0-9a-f]{8})?$/;

const StartBackupBody = z.object({ mailboxes: z.array(upnSchema).min(1).max(1000).optional() }).strict();

function runSettings(): BackupRunSettings {
  const { backup } = loadConfig();
  return {
    waveSize: backup.waveSize,
    exportConcurrency: backup.exportConcurrency,
    windowsPerEpisode: backup.windowsPerEpisode,
  };
}

/**
 * `POST /api/backups`: back up now, all mailboxes in scope or the ones named (each must be in scope). 202 with the
 * status URL.
 */
export async function startBackup(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, StartBackupBody, { optional: true });
  if ('response' in body) return body.response;
  const startedAt = new Date();
  const runId = `backup-${compactTime(startedAt)}-${randomBytes(4).toString('hex')}`;
  const { mailboxes } = body.value;
  await authorizeBackup(await getServices(), mailboxes);
  await auditCall(request, context, {
    action: 'backup',
    subject: runId,
    source: { mailboxes: mailboxes ? mailboxes.join(',') : 'every mailbox in scope' },
  });
  const input: BackupTenantInput = {
    runId,
    trigger: 'http',
    startedAt: startedAt.toISOString(),
    settings: runSettings(),
    ...(mailboxes ? { mailboxes } : {}),
  };
  await startOrchestration(client, contracts.backupTenant, runId, input);
  context.log(`Started backup ${runId}`);
  return accepted(request, 'backups', runId);
}

/** `GET /api/backups/{id}`: status, progress and, when done, the run report. */
export async function getBackup(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const param = idParam(request, RUN_ID, 'backup run', 'backup-20261123T020000Z');
  if ('response' in param) return param.response;
  const { id } = param;
  const status = await findInstance(client, id);
  if (!status) return answerFromReport(id, layout.runReport(id), 'backup run');
  const body: Record<string, unknown> = {
    id,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    progress: await progressOf(id, status.customStatus),
  };
  if (status.runtimeStatus === 'Completed') {
    const { vault } = await getServices();
    const report = await vault.readJson<RunReport>(layout.runReport(id));
    // Kept while a snapshot of the run is: gone with the last of them.
    if (!report) return notInVault('backup run', id, true);
    Object.assign(body, {
      status: report.status,
      reportBlob: layout.runReport(id),
      report,
    });
  } else if (status.runtimeStatus === 'Failed') {
    body.status = 'Failed';
    body.error = typeof status.output === 'string' ? errorReason(status.output) : 'The run failed';
  }
  return { status: 200, jsonBody: body };
}

/** The run's custom status, with how many mailboxes its lanes have taken while it backs them up. */
async function progressOf(id: string, customStatus: unknown): Promise<unknown> {
  const progress = (customStatus ?? null) as Record<string, unknown> | null;
  if (progress?.phase !== 'backing up') return progress;
  const { vault } = await getServices();
  return { ...progress, mailboxesStarted: await mailboxesTaken(vault, id) };
}

/**
 * `GET /api/backups/{id}/mailboxes?page=N`: one page of a finished run's per-mailbox results (a report with
 * `pages` lists only the mailboxes that did not complete).
 */
export async function getBackupMailboxes(request: HttpRequest): Promise<HttpResponseInit> {
  const param = idParam(request, RUN_ID, 'backup run', 'backup-20261123T020000Z');
  if ('response' in param) return param.response;
  const page = Number(request.query.get('page') ?? '0');
  if (!Number.isInteger(page) || page < 0)
    return problem(400, 'The page is not valid', [
      `page: expected a whole number from 0, got '${request.query.get('page')}'`,
    ]);
  const { vault } = await getServices();
  const report = await vault.readJson<RunReport>(layout.runReport(param.id));
  if (!report) return problem(404, `No finished backup run '${param.id}'`);
  const pages = report.pages?.count ?? 1;
  if (page >= pages)
    return problem(404, `Backup run '${param.id}' has ${pages} report page(s); there is no page ${page}`);
  const mailboxes = report.pages ? (await readRunReportPage(vault, param.id, page)).mailboxes : report.mailboxes;
  return { status: 200, jsonBody: { id: param.id, page, pages, mailboxes } };
}

/** The nightly backup of every mailbox in scope, once per scheduled occurrence. */
export async function scheduledBackup(
  _timer: Timer,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  const { schedule } = loadConfig().backup;
  await startScheduledRun(
    client,
    context,
    { contract: contracts.backupTenant, idPrefix: 'backup', schedule },
    (runId, occurrence): BackupTenantInput => ({
      runId,
      trigger: 'timer',
      startedAt: occurrence.toISOString(),
      settings: runSettings(),
    }),
  );
}

registerDurableApiRoute('startBackup', 'POST', 'backups', { role: 'operator', audit: 'backup' }, startBackup);
registerDurableApiRoute('getBackup', 'GET', 'backups/{id}', { role: 'reader' }, getBackup);
registerApiRoute('getBackupMailboxes', 'GET', 'backups/{id}/mailboxes', { role: 'reader' }, getBackupMailboxes);
df.app.client.timer('scheduledBackup', { schedule: '%MAILBOX_VAULT_BACKUP_SCHEDULE%', handler: scheduledBackup });
