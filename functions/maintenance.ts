import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { z } from 'zod';
import { loadConfig } from '../shared/config.js';
import { MailboxNotFoundError } from '../shared/graph/index.js';
import { findWorkInProgress, pruneMailbox } from '../shared/maintenance/prune.js';
import { writeMaintenanceReport, type MaintenanceReport } from '../shared/maintenance/report.js';
import { verifyMailbox, type VerifyMode } from '../shared/maintenance/verify.js';
import { getServices } from '../shared/services.js';
import { compactTime, keyOf, layout } from '../shared/vault/layout.js';
import { scheduledOccurrence } from './backupTriggers.js';
import { finishedFromReport, originOf, problem, readJsonBody } from './http.js';
import { settleWindow } from './windows.js';

export interface MaintenanceInput {
  id: string;
  trigger: 'timer' | 'http';
  startedAt: string;
  prune: { dryRun: boolean } | null;
  verify: { mode: VerifyMode } | null;
  /** Mailbox keys asked for; every mailbox in the vault when null. */
  mailboxKeys: string[] | null;
}

const MAILBOXES_AT_ONCE = 4;
const activityRetry = new df.RetryOptions(5_000, 3);
activityRetry.backoffCoefficient = 2;

/**
 * Vault maintenance: prune by the retention policy (or report what it would free), then verify, one mailbox
 * per activity in fixed windows, then the report. Orchestrator code reads no clock: "now" is the start time.
 */
export const vaultMaintenance: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput() as MaintenanceInput;
  const { count } = (yield context.df.callActivityWithRetry('listVaultMailboxes', activityRetry, {
    id: input.id,
    mailboxKeys: input.mailboxKeys,
  })) as { count: number };
  for (const step of ['prune', 'verify'] as const) {
    if (!input[step]) continue;
    for (let offset = 0; offset < count; offset += MAILBOXES_AT_ONCE) {
      context.df.setCustomStatus({ phase: step, mailboxesDone: offset, mailboxes: count });
      const tasks: Task[] = [];
      for (let index = offset; index < Math.min(count, offset + MAILBOXES_AT_ONCE); index++) {
        tasks.push(
          context.df.callActivityWithRetry(
            step === 'prune' ? 'pruneVaultMailbox' : 'verifyVaultMailbox',
            activityRetry,
            { ...input, index },
          ),
        );
      }
      // A mailbox that failed is recorded by its activity (or reported as missing).
      yield* settleWindow(context, tasks);
    }
  }
  context.df.setCustomStatus({ phase: 'reporting', mailboxesDone: count, mailboxes: count });
  const report = (yield context.df.callActivityWithRetry('writeMaintenanceReport', activityRetry, input)) as {
    status: string;
  };
  context.df.setCustomStatus({ phase: 'done', mailboxesDone: count, mailboxes: count, status: report.status });
  return report;
};

async function mailboxKeysOf(id: string): Promise<string[]> {
  const { vault } = await getServices();
  return (await vault.readJson<string[]>(`maintenance/${id}/mailboxes.json`)) ?? [];
}

export async function listVaultMailboxes(input: {
  id: string;
  mailboxKeys: string[] | null;
}): Promise<{ count: number }> {
  const { vault } = await getServices();
  let keys = input.mailboxKeys;
  if (!keys) {
    keys = [];
    for await (const prefix of vault.listPrefixes('mailboxes/')) keys.push(prefix.slice('mailboxes/'.length, -1));
  }
  await vault.writeJson(`maintenance/${input.id}/mailboxes.json`, keys);
  return { count: keys.length };
}

export async function pruneVaultMailbox(
  input: MaintenanceInput & { index: number },
): Promise<{ versionsDeleted: number }> {
  const { config, vault } = await getServices();
  const key = (await mailboxKeysOf(input.id))[input.index]!;
  try {
    const now = new Date(input.startedAt);
    const work = await findWorkInProgress(vault, now);
    const result = await pruneMailbox(vault, {
      mailboxKey: key,
      policy: config.maintenance.retention,
      now,
      dryRun: input.prune!.dryRun,
      protectedSnapshots: work.protectedSnapshots.get(key) ?? [],
      sweepCreatedBefore: work.sweepCreatedBefore,
    });
    await vault.writeJson(layout.maintenanceResult(input.id, 'prune', key), result);
    return { versionsDeleted: result.versionsDeleted };
  } catch (error) {
    await vault.writeJson(layout.maintenanceResult(input.id, 'prune', key), { error: (error as Error).message });
    throw error;
  }
}

export async function verifyVaultMailbox(input: MaintenanceInput & { index: number }): Promise<{ problems: number }> {
  const { config, vault } = await getServices();
  const key = (await mailboxKeysOf(input.id))[input.index]!;
  try {
    const result = await verifyMailbox(vault, {
      mailboxKey: key,
      mode: input.verify!.mode,
      sample: config.maintenance.verifySample,
      seed: input.id,
    });
    await vault.writeJson(layout.maintenanceResult(input.id, 'verify', key), result);
    return { problems: result.problems.length };
  } catch (error) {
    await vault.writeJson(layout.maintenanceResult(input.id, 'verify', key), { error: (error as Error).message });
    throw error;
  }
}

export async function writeMaintenanceReportActivity(
  input: MaintenanceInput,
): Promise<{ status: string; reportBlob: string }> {
  const { vault } = await getServices();
  const report = await writeMaintenanceReport(vault, { ...input, mailboxKeys: await mailboxKeysOf(input.id) });
  return { status: report.status, reportBlob: layout.maintenanceReport(input.id) };
}

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
    mailboxes: z
      .array(z.string().regex(/^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/, 'must be a user principal name'))
      .min(1)
      .max(1000)
      .optional(),
  })
  .strict()
  .refine((b) => b.prune || b.verify, { message: "ask for 'prune', 'verify' or both", path: ['prune'] });

const MAINTENANCE_ID = /^maintenance-\d{8}T\d{6}Z(-[0-9a-f]{8})?$/;

/** `POST /api/maintenance`: prune (optionally a dry run) and/or verify now. */
export async function startMaintenance(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, MaintenanceBody);
  if ('response' in body) return body.response;
  let mailboxKeys: string[] | null = null;
  if (body.value.mailboxes) {
    const { graph } = await getServices();
    mailboxKeys = [];
    for (const upn of body.value.mailboxes) {
      try {
        mailboxKeys.push(keyOf((await graph.getMailboxIds(upn)).primaryMailboxId));
      } catch (error) {
        if (error instanceof MailboxNotFoundError)
          return problem(400, 'The request is not valid', [`mailboxes: '${upn}' has no Exchange Online mailbox`]);
        throw error;
      }
    }
  }
  const startedAt = new Date();
  const id = `maintenance-${compactTime(startedAt)}-${randomBytes(4).toString('hex')}`;
  const input: MaintenanceInput = {
    id,
    trigger: 'http',
    startedAt: startedAt.toISOString(),
    prune: body.value.prune ?? null,
    verify: body.value.verify ?? null,
    mailboxKeys,
  };
  await client.startNew('vaultMaintenance', { instanceId: id, input });
  const statusUrl = `${originOf(request)}/api/maintenance/${id}`;
  return { status: 202, headers: { Location: statusUrl }, jsonBody: { id, statusUrl } };
}

/** `GET /api/maintenance/{id}`: status, progress and the report. */
export async function getMaintenance(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!MAINTENANCE_ID.test(id))
    return problem(400, 'The maintenance id is not valid', [`id: got '${id.slice(0, 80)}'`]);
  let status: df.DurableOrchestrationStatus | undefined;
  try {
    status = await client.getStatus(id);
  } catch {
    status = undefined;
  }
  const { vault } = await getServices();
  if (!status?.runtimeStatus) {
    const finished = await vault.readJson<MaintenanceReport>(layout.maintenanceReport(id));
    return finished
      ? finishedFromReport(id, finished, layout.maintenanceReport(id))
      : problem(404, `No maintenance run '${id}'`);
  }
  const report =
    status.runtimeStatus === 'Completed'
      ? await vault.readJson<MaintenanceReport>(layout.maintenanceReport(id))
      : undefined;
  return {
    status: 200,
    jsonBody: {
      id,
      runtimeStatus: status.runtimeStatus,
      status: report?.status ?? (status.runtimeStatus === 'Failed' ? 'Failed' : 'Running'),
      progress: status.customStatus ?? null,
      report: report ?? null,
    },
  };
}

/** Nightly: prune by the policy, then a sampled verification. The id comes from the scheduled time. */
export async function scheduledMaintenance(
  _timer: Timer,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<void> {
  const config = loadConfig();
  const occurrence = scheduledOccurrence(config.maintenance.schedule, new Date());
  const id = `maintenance-${compactTime(occurrence)}`;
  try {
    const existing = await client.getStatus(id);
    if (existing?.runtimeStatus && !['Failed', 'Terminated'].includes(existing.runtimeStatus)) {
      context.log(`Maintenance ${id} already ${existing.runtimeStatus}; not starting it again`);
      return;
    }
  } catch {
    /* not started yet */
  }
  const input: MaintenanceInput = {
    id,
    trigger: 'timer',
    startedAt: occurrence.toISOString(),
    prune: { dryRun: false },
    verify: { mode: 'sample' },
    mailboxKeys: null,
  };
  await client.startNew('vaultMaintenance', { instanceId: id, input });
}

df.app.orchestration('vaultMaintenance', vaultMaintenance);
df.app.activity('listVaultMailboxes', { handler: listVaultMailboxes });
df.app.activity('pruneVaultMailbox', { handler: pruneVaultMailbox });
df.app.activity('verifyVaultMailbox', { handler: verifyVaultMailbox });
df.app.activity('writeMaintenanceReport', { handler: writeMaintenanceReportActivity });
df.app.client.http('startMaintenance', {
  route: 'maintenance',
  methods: ['POST'],
  authLevel: 'function',
  handler: startMaintenance,
});
df.app.client.http('getMaintenance', {
  route: 'maintenance/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getMaintenance,
});
df.app.client.timer('scheduledMaintenance', {
  schedule: '%MAILBOX_VAULT_MAINTENANCE_SCHEDULE%',
  handler: scheduledMaintenance,
});
