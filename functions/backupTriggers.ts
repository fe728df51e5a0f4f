import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { Cron } from 'croner';
import { z } from 'zod';
import { loadConfig } from '../shared/config.js';
import { getServices } from '../shared/services.js';
import type { RunReport } from '../shared/backup/types.js';
import { compactTime, layout } from '../shared/vault/layout.js';
import type { BackupRunSettings, BackupTenantInput } from './backupOrchestrators.js';
import { finishedFromReport, originOf, problem, readJsonBody } from './http.js';

const UPN = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;
const RUN_ID = /^backup-\d{8}T\d{6}Z(-[0-9a-f]{8})?$/;

const StartBackupBody = z
  .object({
    mailboxes: z
      .array(z.string().regex(UPN, 'must be a user principal name such as adele@contoso.com'))
      .min(1)
      .max(1000)
      .optional(),
  })
  .strict();

function runSettings(): BackupRunSettings {
  const { backup } = loadConfig();
  return {
    waveSize: backup.waveSize,
    exportConcurrency: backup.exportConcurrency,
    windowsPerEpisode: backup.windowsPerEpisode,
  };
}

const TERMINAL = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

/** `POST /api/backups`: back up now, all mailboxes in scope or the ones named. 202 with the status URL. */
export async function startBackup(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, StartBackupBody, { optional: true });
  if ('response' in body) return body.response;
  const startedAt = new Date();
  const runId = `backup-${compactTime(startedAt)}-${randomBytes(4).toString('hex')}`;
  const input: BackupTenantInput = {
    runId,
    trigger: 'http',
    startedAt: startedAt.toISOString(),
    settings: runSettings(),
    ...(body.value.mailboxes ? { mailboxes: body.value.mailboxes } : {}),
  };
  await client.startNew('backupTenant', { instanceId: runId, input });
  context.log(`Started backup ${runId}`);
  const statusUrl = `${originOf(request)}/api/backups/${runId}`;
  return { status: 202, headers: { Location: statusUrl }, jsonBody: { id: runId, statusUrl } };
}

/** `GET /api/backups/{id}`: status, progress and, when done, the run report. */
export async function getBackup(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!RUN_ID.test(id))
    return problem(400, 'The backup id is not valid', [
      `id: expected a backup run id such as backup-20261123T020000Z, got '${id.slice(0, 80)}'`,
    ]);
  let status: df.DurableOrchestrationStatus | undefined;
  try {
    status = await client.getStatus(id);
  } catch {
    status = undefined;
  }
  if (!status?.runtimeStatus) {
    const { vault } = await getServices();
    const report = await vault.readJson<RunReport>(layout.runReport(id));
    return report ? finishedFromReport(id, report, layout.runReport(id)) : problem(404, `No backup run '${id}'`);
  }
  const body: Record<string, unknown> = {
    id,
    runtimeStatus: status.runtimeStatus,
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    progress: status.customStatus ?? null,
  };
  if (status.runtimeStatus === 'Completed') {
    const { vault } = await getServices();
    const report = await vault.readJson<RunReport>(layout.runReport(id));
    body.status = report?.status ?? 'Unknown';
    body.reportBlob = layout.runReport(id);
    body.report = report ?? null;
  } else if (status.runtimeStatus === 'Failed') {
    body.status = 'Failed';
    body.error = typeof status.output === 'string' ? status.output.split('\n')[0] : 'The run failed';
  }
  return { status: 200, jsonBody: body };
}

/** The scheduled occurrence a timer fire belongs to: the latest schedule time not after now. */
export function scheduledOccurrence(schedule: string, now: Date): Date {
  const [previous] = new Cron(schedule, { paused: true, timezone: 'UTC' }).previousRuns(
    1,
    new Date(now.getTime() + 1000),
  );
  return previous ?? now;
}

/**
 * The nightly backup. The instance id comes from the scheduled time, so a second fire for the same occurrence
 * (a host restart, two instances) finds the run already there and starts nothing.
 */
export async function scheduledBackup(
  _timer: Timer,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  const config = loadConfig();
  const occurrence = scheduledOccurrence(config.backup.schedule, new Date());
  const runId = `backup-${compactTime(occurrence)}`;
  let existing: df.DurableOrchestrationStatus | undefined;
  try {
    existing = await client.getStatus(runId);
  } catch {
    existing = undefined;
  }
  if (existing?.runtimeStatus && !['Failed', 'Terminated'].includes(existing.runtimeStatus)) {
    context.log(
      `Backup ${runId} already ${TERMINAL.has(existing.runtimeStatus) ? 'ran' : 'running'} (${existing.runtimeStatus}); not starting it again`,
    );
    return;
  }
  const input: BackupTenantInput = {
    runId,
    trigger: 'timer',
    startedAt: occurrence.toISOString(),
    settings: runSettings(),
  };
  await client.startNew('backupTenant', { instanceId: runId, input });
  context.log(`Started scheduled backup ${runId}`);
}

df.app.client.http('startBackup', { route: 'backups', methods: ['POST'], authLevel: 'function', handler: startBackup });
df.app.client.http('getBackup', { route: 'backups/{id}', methods: ['GET'], authLevel: 'function', handler: getBackup });
df.app.client.timer('scheduledBackup', { schedule: '%MAILBOX_VAULT_BACKUP_SCHEDULE%', handler: scheduledBackup });
