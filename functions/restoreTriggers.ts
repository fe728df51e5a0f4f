import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';
import { authorizeRestore, authorizeRestoreRead, type LookedUpMailbox } from '../shared/access/policy.js';
import { markRestoreCanceled } from '../shared/restore/cancel.js';
import { startsInTime } from '../shared/maintenance/expiringSnapshots.js';
import { currentRestoreReport } from '../shared/restore/report.js';
import {
  RestoreBody,
  recordRestoreRequest,
  RestoreRequestError,
  resolveRestoreRequest,
  withdrawRestoreRequest,
  type RestoreRequestErrorCode,
} from '../shared/restore/request.js';
import { getServices } from '../shared/services.js';
import { compactTime, layout } from '../shared/vault/layout.js';
import * as contracts from './contracts.js';
import { findInstance, startOrchestration } from './durable.js';
import type { RestoreRequest } from '../shared/restore/types.js';
import {
  accepted,
  answerWithReport,
  notInVault,
  auditCall,
  authorizationOf,
  idParam,
  notStartedInTime,
  problem,
  readJsonBody,
  registerDurableApiRoute,
} from './http.js';

export const RESTORE_REFUSAL_STATUS: Record<RestoreRequestErrorCode, number> = {
  InvalidRequest: 400,
  SnapshotNotFound: 404,
  SnapshotExpiring: 409,
  UnknownFolder: 422,
  NothingSelected: 422,
};

const RESTORE_ID = /^restore-\d{8}T\d{6}Z-[0-9a-f]{8}$/;
const RESTORE_ID_EXAMPLE = 'restore-20261123T150405Z-1a2b3c4d';

/** A mailbox id the policy confirmed as a user's primary mailbox is restored by that user's UPN. */
function byUpn(mailbox: LookedUpMailbox): string {
  return mailbox.archive ? mailbox.value : mailbox.upn;
}

/**
 * `POST /api/restores`: validate everything, apply the restore policy, write the request (and check its snapshot
 * is still kept: a prune may be deleting it), write the audit record, start, answer 202.
 */
export async function startRestore(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, RestoreBody);
  if ('response' in body) return body.response;
  const services = await getServices();
  const { config, graph, vault } = services;
  const auth = authorizationOf(request);
  const requestedAt = new Date();
  const restoreId = `restore-${compactTime(requestedAt)}-${randomBytes(4).toString('hex')}`;
  let resolved;
  let startBy: string;
  try {
    const { source, target } = await authorizeRestore(services, auth, body.value);
    const checked = {
      ...body.value,
      sourceMailbox: byUpn(source),
      ...(body.value.targetMailbox ? { targetMailbox: byUpn(target) } : {}),
    };
    const meta = {
      restoreId,
      requestedAt: requestedAt.toISOString(),
      requestedBy: auth.caller.name,
      requesterOid: auth.caller.oid,
    };
    resolved = await resolveRestoreRequest(graph, vault, checked, meta);
    // Before the audit record: a restore refused here (SnapshotExpiring) is audited as refused.
    startBy = await recordRestoreRequest(vault, resolved.request);
  } catch (error) {
    if (error instanceof RestoreRequestError)
      return problem(RESTORE_REFUSAL_STATUS[error.code], error.message, error.errors);
    throw error;
  }
  const { request: restore, selected } = resolved;
  try {
    await auditCall(request, context, restoreAudit(restore, selected));
  } catch (error) {
    await withdrawRestoreRequest(vault, restore); // nothing starts unaudited, nor stays to protect a snapshot
    throw error;
  }
  if (!startsInTime(startBy)) {
    await withdrawRestoreRequest(vault, restore);
    return notStartedInTime('restore');
  }
  await startOrchestration(client, contracts.restoreMailbox, restoreId, {
    restoreId,
    targetMailboxId: restore.target.mailboxId,
    importConcurrency: config.restore.importConcurrency,
    windowsPerEpisode: config.backup.windowsPerEpisode,
  });
  context.log(`Started restore ${restoreId}: ${selected} item(s) of snapshot ${restore.source.snapshotId}`);
  return accepted(request, 'restores', restoreId, { snapshotId: restore.source.snapshotId, selectedItems: selected });
}

function restoreAudit(restore: RestoreRequest, selectedItems: number) {
  const { source, target } = restore;
  return {
    action: 'restore' as const,
    subject: restore.restoreId,
    source: {
      mailbox: source.upn ?? source.mailboxId,
      mailboxId: source.mailboxId,
      snapshotId: source.snapshotId,
      takenAt: source.takenAt,
    },
    target: {
      mailbox: target.upn ?? target.mailboxId,
      mailboxId: target.mailboxId,
      destination: restore.destination.mode,
    },
    what: { filters: restore.filters, collisions: restore.collisions, selectedItems },
  };
}

/** `GET /api/restores/{id}`: status, progress, and the report once there is one. */
export async function getRestore(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const param = idParam(request, RESTORE_ID, 'restore', RESTORE_ID_EXAMPLE);
  if ('response' in param) return param.response;
  const { id } = param;
  const { vault } = await getServices();
  const auth = authorizationOf(request);
  const asked = await vault.readJson<RestoreRequest>(layout.restoreRequest(id));
  // Before a canceled restore's report is built from its batches: not for a caller who may not see it.
  if (asked && auth.selfService) authorizeRestoreRead(auth, asked.requesterOid);
  const { report, canceled } = await currentRestoreReport(vault, id);
  const status = await findInstance(client, id);
  // Its folder gone (past the retention policy) or never written: nothing of it to show, nor to guard.
  if (!asked && !report) return notInVault('restore', id, status !== undefined);
  // A report without its request (the retention policy's deletion cut short; it deletes the report last): no owner.
  if (!asked && auth.selfService) authorizeRestoreRead(auth, undefined);
  if (!status) {
    // Its request is there, but no orchestration ever started it (or another task hub runs it).
    if (!report) return problem(404, `No restore '${id}'`);
    return answerWithReport(id, layout.restoreReport(id), report);
  }
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
export async function cancelRestore(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const param = idParam(request, RESTORE_ID, 'restore', RESTORE_ID_EXAMPLE);
  if ('response' in param) return param.response;
  const { id } = param;
  const status = await findInstance(client, id);
  if (!status) return problem(404, `No restore '${id}'`);
  if (!['Running', 'Pending'].includes(status.runtimeStatus))
    return problem(409, `Restore '${id}' is already ${status.runtimeStatus}`);
  const { vault } = await getServices();
  await auditCall(request, context, { action: 'cancelRestore', subject: id });
  await markRestoreCanceled(vault, id, authorizationOf(request).caller.name, new Date());
  await client.terminate(id, 'Canceled through the API');
  return accepted(request, 'restores', id, { status: 'Canceled' });
}

registerDurableApiRoute(
  'startRestore',
  'POST',
  'restores',
  { role: 'restorer', selfService: true, audit: 'restore' },
  startRestore,
);
registerDurableApiRoute('getRestore', 'GET', 'restores/{id}', { role: 'reader', selfService: true }, getRestore);
registerDurableApiRoute(
  'cancelRestore',
  'DELETE',
  'restores/{id}',
  { role: 'restorer', audit: 'cancelRestore' },
  cancelRestore,
);
