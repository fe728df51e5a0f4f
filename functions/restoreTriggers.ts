import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';
import { auditRestoreStarted, recordRestoreCanceled } from '../shared/restore/audit.js';
import { currentRestoreReport } from '../shared/restore/report.js';
import {
  RestoreBody,
  RestoreRequestError,
  resolveRestoreRequest,
  type RestoreRequestErrorCode,
} from '../shared/restore/request.js';
import { getServices } from '../shared/services.js';
import { compactTime, layout } from '../shared/vault/layout.js';
import * as contracts from './contracts.js';
import { findInstance, startOrchestration } from './durable.js';
import { accepted, answerFromReport, idParam, problem, readJsonBody, registerDurableApiRoute } from './http.js';

export const RESTORE_REFUSAL_STATUS: Record<RestoreRequestErrorCode, number> = {
  InvalidRequest: 400,
  SnapshotNotFound: 404,
  UnknownFolder: 422,
  NothingSelected: 422,
};

const RESTORE_ID = /^restore-\d{8}T\d{6}Z-[0-9a-f]{8}$/;
const RESTORE_ID_EXAMPLE = 'restore-20261123T150405Z-1a2b3c4d';

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
    const meta = { restoreId, requestedAt: requestedAt.toISOString(), requestedBy: requesterOf(request) };
    resolved = await resolveRestoreRequest(graph, vault, body.value, meta);
  } catch (error) {
    if (error instanceof RestoreRequestError)
      return problem(RESTORE_REFUSAL_STATUS[error.code], error.message, error.errors);
    throw error;
  }
  const { request: restore, selected } = resolved;
  await vault.writeJson(layout.restoreRequest(restoreId), restore, { onlyIfAbsent: true });
  await auditRestoreStarted(vault, restore, { selectedItems: selected, userAgent: request.headers.get('user-agent') });
  await startOrchestration(client, contracts.restoreMailbox, restoreId, {
    restoreId,
    targetMailboxId: restore.target.mailboxId,
    importConcurrency: config.restore.importConcurrency,
    windowsPerEpisode: config.backup.windowsPerEpisode,
  });
  context.log(`Started restore ${restoreId}: ${selected} item(s) of snapshot ${restore.source.snapshotId}`);
  return accepted(request, 'restores', restoreId, { snapshotId: restore.source.snapshotId, selectedItems: selected });
}

/** `GET /api/restores/{id}`: status, progress, and the report once there is one. */
export async function getRestore(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const param = idParam(request, RESTORE_ID, 'restore', RESTORE_ID_EXAMPLE);
  if ('response' in param) return param.response;
  const { id } = param;
  const status = await findInstance(client, id);
  if (!status) return answerFromReport(id, layout.restoreReport(id), `No restore '${id}'`);
  const { vault } = await getServices();
  const { report, canceled } = await currentRestoreReport(vault, id);
  const statusSoFar = status.runtimeStatus === 'Failed' ? 'Failed' : 'Running';
  return {
    status: 200,
    jsonBody: {
      id,
      runtimeStatus: canceled && status.runtimeStatus === 'Terminated' ? 'Canceled' : status.runtimeStatus,
      status: report?.status ?? (canceled ? 'Canceled' : statusSoFar),
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
      progress: status.customStatus ?? null,
      report: report ?? null,
    },
  };
}

/**
 * `DELETE /api/restores/{id}`: stop a running restore. The marker is written before the orchestration is
 * terminated, so import batches already running see it and stop before their next item. Items already imported
 * stay, and are in the journal.
 */
export async function cancelRestore(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const param = idParam(request, RESTORE_ID, 'restore', RESTORE_ID_EXAMPLE);
  if ('response' in param) return param.response;
  const { id } = param;
  const status = await findInstance(client, id);
  if (!status) return problem(404, `No restore '${id}'`);
  if (!['Running', 'Pending'].includes(status.runtimeStatus))
    return problem(409, `Restore '${id}' is already ${status.runtimeStatus}`);
  const { vault } = await getServices();
  await recordRestoreCanceled(vault, id, requesterOf(request), new Date());
  await client.terminate(id, 'Canceled through the API');
  return accepted(request, 'restores', id, { status: 'Canceled' });
}

registerDurableApiRoute('startRestore', 'POST', 'restores', startRestore);
registerDurableApiRoute('getRestore', 'GET', 'restores/{id}', getRestore);
registerDurableApiRoute('cancelRestore', 'DELETE', 'restores/{id}', cancelRestore);
