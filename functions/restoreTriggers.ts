import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import {
  RestoreBody,
  RestoreRequestError,
  resolveRestoreRequest,
  type RestoreRequestErrorCode,
} from '../shared/restore/request.js';
import { buildRestoreReport } from '../shared/restore/report.js';
import type { RestorePlanSummary, RestoreReport, RestoreRequest } from '../shared/restore/types.js';
import { getServices } from '../shared/services.js';
import { compactTime, layout } from '../shared/vault/layout.js';
import { finishedFromReport, originOf, problem, readJsonBody } from './http.js';
import type { RestoreMailboxInput } from './restoreOrchestrator.js';

const RESTORE_REFUSAL_STATUS: Record<RestoreRequestErrorCode, number> = {
  InvalidRequest: 400,
  SnapshotNotFound: 404,
  NothingSelected: 422,
};

const RESTORE_ID = /^restore-\d{8}T\d{6}Z-[0-9a-f]{8}$/;

/** Who asked, as far as the platform says: App Service authentication's principal, else the key holder's address. */
function requesterOf(request: HttpRequest): string {
  const principal =
    request.headers.get('x-ms-client-principal-name') ?? request.headers.get('x-ms-client-principal-id');
  const address =
    request.headers.get('x-forwarded-for')?.split(',')[0]?.trim() ??
    request.headers.get('x-real-ip') ??
    'unknown address';
  return principal ? `${principal} (${address})` : `function key holder at ${address}`;
}

/** `POST /api/restores`: validate everything, write the request and its audit record, start, answer 202. */
export async function startRestore(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, RestoreBody);
  if ('response' in body) return body.response;
  const { config, graph, vault } = await getServices();
  const requestedAt = new Date();
  const restoreId = `restore-${compactTime(requestedAt)}-${randomBytes(4).toString('hex')}`;
  let resolved;
  try {
    resolved = await resolveRestoreRequest(graph, vault, body.value, {
      restoreId,
      requestedAt: requestedAt.toISOString(),
      requestedBy: requesterOf(request),
    });
  } catch (error) {
    if (error instanceof RestoreRequestError)
      return problem(RESTORE_REFUSAL_STATUS[error.code], error.message, error.errors);
    throw error;
  }
  const { request: restore, selected } = resolved;
  await vault.writeJson(layout.restoreRequest(restoreId), restore, { onlyIfAbsent: true });
  await vault.writeJson(layout.audit(requestedAt, 'restore', restoreId), {
    action: 'restore',
    restoreId,
    at: requestedAt.toISOString(),
    who: restore.requestedBy,
    userAgent: request.headers.get('user-agent') ?? null,
    from: {
      mailbox: restore.source.upn ?? restore.source.mailboxId,
      mailboxId: restore.source.mailboxId,
      snapshotId: restore.source.snapshotId,
      takenAt: restore.source.takenAt,
    },
    into: {
      mailbox: restore.target.upn ?? restore.target.mailboxId,
      mailboxId: restore.target.mailboxId,
      destination: restore.destination,
    },
    what: { filters: restore.filters, collisions: restore.collisions, selectedItems: selected },
  });
  const input: RestoreMailboxInput = {
    restoreId,
    targetMailboxId: restore.target.mailboxId,
    importConcurrency: config.restore.importConcurrency,
    windowsPerEpisode: config.backup.windowsPerEpisode,
  };
  await client.startNew('restoreMailbox', { instanceId: restoreId, input });
  context.log(`Started restore ${restoreId}: ${selected} item(s) of snapshot ${restore.source.snapshotId}`);
  const statusUrl = `${originOf(request)}/api/restores/${restoreId}`;
  return {
    status: 202,
    headers: { Location: statusUrl },
    jsonBody: { id: restoreId, statusUrl, snapshotId: restore.source.snapshotId, selectedItems: selected },
  };
}

async function statusOf(client: df.DurableClient, id: string): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    const status = await client.getStatus(id);
    return status?.runtimeStatus ? status : undefined;
  } catch {
    return undefined;
  }
}

/** `GET /api/restores/{id}`: status, progress, and the report once there is one. */
export async function getRestore(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!RESTORE_ID.test(id))
    return problem(400, 'The restore id is not valid', [
      `id: expected a restore id such as restore-20261123T150405Z-1a2b3c4d, got '${id.slice(0, 80)}'`,
    ]);
  const status = await statusOf(client, id);
  const { vault } = await getServices();
  if (!status) {
    const finished = await vault.readJson<RestoreReport>(layout.restoreReport(id));
    return finished ? finishedFromReport(id, finished, layout.restoreReport(id)) : problem(404, `No restore '${id}'`);
  }
  const canceled = await vault.readJson<{ at: string }>(layout.restoreCanceled(id));
  let report = await vault.readJson<RestoreReport>(layout.restoreReport(id));
  if (!report && canceled) {
    const plan = await vault.readJson<RestorePlanSummary>(layout.restorePlanSummary(id));
    report = await buildRestoreReport(vault, { restoreId: id, canceled: true, ...(plan ? { plan } : {}) });
  }
  return {
    status: 200,
    jsonBody: {
      id,
      runtimeStatus: canceled && status.runtimeStatus === 'Terminated' ? 'Canceled' : status.runtimeStatus,
      status: report?.status ?? (canceled ? 'Canceled' : status.runtimeStatus === 'Failed' ? 'Failed' : 'Running'),
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
      progress: status.customStatus ?? null,
      report: report ?? null,
    },
  };
}

/** `DELETE /api/restores/{id}`: stop a running restore. Items already imported stay, and are in the journal. */
export async function cancelRestore(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const id = request.params.id ?? '';
  if (!RESTORE_ID.test(id)) return problem(400, 'The restore id is not valid', [`id: got '${id.slice(0, 80)}'`]);
  const status = await statusOf(client, id);
  if (!status) return problem(404, `No restore '${id}'`);
  if (!['Running', 'Pending'].includes(status.runtimeStatus))
    return problem(409, `Restore '${id}' is already ${status.runtimeStatus}`);
  const { vault } = await getServices();
  const request_ = await vault.readJson<RestoreRequest>(layout.restoreRequest(id));
  await vault.writeJson(layout.restoreCanceled(id), { at: new Date().toISOString(), by: requesterOf(request) });
  if (request_)
    await vault.writeJson(layout.audit(new Date(), 'cancel', id), {
      action: 'cancelRestore',
      restoreId: id,
      at: new Date().toISOString(),
      who: requesterOf(request),
    });
  await client.terminate(id, 'Canceled through the API');
  return { status: 202, jsonBody: { id, status: 'Canceled', statusUrl: `${originOf(request)}/api/restores/${id}` } };
}

df.app.client.http('startRestore', {
  route: 'restores',
  methods: ['POST'],
  authLevel: 'function',
  handler: startRestore,
});
df.app.client.http('getRestore', {
  route: 'restores/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: getRestore,
});
df.app.client.http('cancelRestore', {
  route: 'restores/{id}',
  methods: ['DELETE'],
  authLevel: 'function',
  handler: cancelRestore,
});
