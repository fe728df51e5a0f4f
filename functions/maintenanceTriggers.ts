import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { z } from 'zod';
import { loadConfig } from '../shared/config.js';
import { MailboxNotFoundError } from '../shared/graph/index.js';
import { upnSchema } from '../shared/mailbox/index.js';
import type { MaintenanceReport } from '../shared/maintenance/report.js';
import { getServices } from '../shared/services.js';
import { compactTime, keyOf, layout } from '../shared/vault/layout.js';
import * as contracts from './contracts.js';
import type { MaintenanceInput } from './contracts.js';
import { findInstance, startOrchestration } from './durable.js';
import {
  accepted,
  answerFromReport,
  notInVault,
  auditCall,
  idParam,
  problem,
  readJsonBody,
  registerDurableApiRoute,
} from './http.js';
import { startScheduledRun } from './schedule.js';

const MaintenanceBody = z
  .object({
    prune: z
      .object({ dryRun: z.boolean().default(false) })
      .strict()
      .optional(),
    verify: z
      .object({ mode: z.enum(['sample', 'full']).default('sample') })
      .strict()
      .optional(),
    mailboxes: z.array(upnSchema).min(1).max(1000).optional(),
  })
  .strict()
  .refine((b) => b.prune || b.verify, { message: "ask for 'prune', 'verify' or both", path: ['prune'] });

const MAINTENANCE_ID = /^maintenance-\d{8}T\d{6}Z(-[0-9a-f]{8})?$/;

/** The vault keys of the mailboxes named, or a 400 naming a user without a mailbox. */
async function mailboxKeysOf(upns: string[]): Promise<{ keys: string[] } | { response: HttpResponseInit }> {
  const { graph } = await getServices();
  const keys: string[] = [];
  for (const upn of upns) {
    try {
      keys.push(keyOf((await graph.getMailboxIds(upn)).primaryMailboxId));
    } catch (error) {
      if (!(error instanceof MailboxNotFoundError)) throw error;
      return {
        response: problem(400, 'The request is not valid', [`mailboxes: '${upn}' has no Exchange Online mailbox`]),
      };
    }
  }
  return { keys };
}

/** `POST /api/maintenance`: prune (optionally a dry run) and/or verify now. */
export async function startMaintenance(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, MaintenanceBody);
  if ('response' in body) return body.response;
  const mailboxes = body.value.mailboxes ? await mailboxKeysOf(body.value.mailboxes) : { keys: null };
  if ('response' in mailboxes) return mailboxes.response;
  const startedAt = new Date();
  const id = `maintenance-${compactTime(startedAt)}-${randomBytes(4).toString('hex')}`;
  const input: MaintenanceInput = {
    id,
    trigger: 'http',
    startedAt: startedAt.toISOString(),
    prune: body.value.prune ?? null,
    verify: body.value.verify ?? null,
    mailboxKeys: mailboxes.keys,
    windowsPerEpisode: loadConfig().backup.windowsPerEpisode,
  };
  await auditCall(request, context, {
    action: 'maintenance',
    subject: id,
    target: { mailboxes: body.value.mailboxes ? body.value.mailboxes.join(',') : 'the whole vault' },
    what: { prune: body.value.prune ?? null, verify: body.value.verify ?? null },
  });
  await startOrchestration(client, contracts.vaultMaintenance, id, input);
  return accepted(request, 'maintenance', id);
}

/** `GET /api/maintenance/{id}`: status, progress and the report. */
export async function getMaintenance(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const param = idParam(request, MAINTENANCE_ID, 'maintenance', 'maintenance-20261123T053000Z');
  if ('response' in param) return param.response;
  const { id } = param;
  const status = await findInstance(client, id);
  if (!status) return answerFromReport(id, layout.maintenanceReport(id), 'maintenance run');
  const { vault } = await getServices();
  const report =
    status.runtimeStatus === 'Completed'
      ? await vault.readJson<MaintenanceReport>(layout.maintenanceReport(id))
      : undefined;
  if (status.runtimeStatus === 'Completed' && !report) return notInVault('maintenance run', id, true);
  const statusSoFar = status.runtimeStatus === 'Failed' ? 'Failed' : 'Running';
  return {
    status: 200,
    jsonBody: {
      id,
      runtimeStatus: status.runtimeStatus,
      status: report?.status ?? statusSoFar,
      progress: status.customStatus ?? null,
      report: report ?? null,
    },
  };
}

/** Nightly: prune by the policy, then a sampled verification, once per scheduled occurrence. */
export async function scheduledMaintenance(
  _timer: Timer,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  const config = loadConfig();
  const { schedule } = config.maintenance;
  await startScheduledRun(
    client,
    context,
    { contract: contracts.vaultMaintenance, idPrefix: 'maintenance', schedule },
    (id, occurrence): MaintenanceInput => ({
      id,
      trigger: 'timer',
      startedAt: occurrence.toISOString(),
      prune: { dryRun: false },
      verify: { mode: 'sample' },
      mailboxKeys: null,
      windowsPerEpisode: config.backup.windowsPerEpisode,
    }),
  );
}

registerDurableApiRoute(
  'startMaintenance',
  'POST',
  'maintenance',
  { role: 'operator', audit: 'maintenance' },
  startMaintenance,
);
registerDurableApiRoute('getMaintenance', 'GET', 'maintenance/{id}', { role: 'reader' }, getMaintenance);
df.app.client.timer('scheduledMaintenance', {
  schedule: '%MAILBOX_VAULT_MAINTENANCE_SCHEDULE%',
  handler: scheduledMaintenance,
});
