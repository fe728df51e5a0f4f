import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';
import { z } from 'zod';
import {
  authorizeMailboxRead,
  authorizeRestoreRead,
  lookUpOrRefuse,
  refuseOthersMailbox,
} from '../shared/access/policy.js';
import { stagingConverterOf } from '../shared/download/converterFor.js';
import { DownloadError, type DownloadErrorCode } from '../shared/download/errors.js';
import { findSnapshotItem, openItemContent } from '../shared/download/itemContent.js';
import { isDownloadableClass, notDownloadableReason } from '../shared/download/itemKinds.js';
import { recordDownloadRequest, withdrawDownloadRequest } from '../shared/download/request.js';
import type { DownloadReport, DownloadRequest } from '../shared/download/types.js';
import { startsInTime } from '../shared/maintenance/expiringSnapshots.js';
import { RestoreBody, RestoreRequestError, resolveRestoreRequest } from '../shared/restore/request.js';
import { getServices } from '../shared/services.js';
import { compactTime, layout } from '../shared/vault/layout.js';
import { findSnapshot } from '../shared/vault/snapshotCatalog.js';
import * as contracts from './contracts.js';
import { findInstance, startOrchestration } from './durable.js';
import {
  accepted,
  idParam,
  notInVault,
  notStartedInTime,
  originOf,
  problem,
  readJsonBody,
  auditCall,
  authorizationOf,
  registerApiRoute,
  registerDurableApiRoute,
} from './http.js';
import { mailboxParam } from './snapshots.js';

const DOWNLOAD_ID = /^download-\d{8}T\d{6}Z-[0-9a-f]{8}$/;
const DOWNLOAD_ID_EXAMPLE = 'download-20261202T021100Z-1a2b3c4d';

const DOWNLOAD_REFUSAL_STATUS: Record<DownloadErrorCode, number> = {
  StagingMailboxNotConfigured: 503,
  StagedCopyNotFound: 502,
  StagedCopyNotReadable: 502,
  NotDownloadable: 422,
  ItemNotFound: 404,
};

const RESTORE_REFUSAL_STATUS = {
  InvalidRequest: 400,
  SnapshotNotFound: 404,
  SnapshotExpiring: 409,
  UnknownFolder: 422,
  NothingSelected: 422,
};

function newDownloadId(kind: 'download' | 'item', at: Date): string {
  return `${kind}-${compactTime(at)}-${randomBytes(4).toString('hex')}`;
}

async function answeringDownloadErrors(run: () => Promise<HttpResponseInit>): Promise<HttpResponseInit> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof DownloadError) return problem(DOWNLOAD_REFUSAL_STATUS[error.code], error.message);
    if (error instanceof RestoreRequestError)
      return problem(RESTORE_REFUSAL_STATUS[error.code], error.message, error.errors);
    throw error;
  }
}

/** `filename="…"` for ASCII clients and `filename*` (RFC 6266) for the subject as it is. */
function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * `GET /api/snapshots/{id}/items/{itemId}/content?mailbox=…`: one message of a snapshot as an `.eml`, converted
 * through the staging mailbox and streamed. Calendar items, contacts and the like are refused (422) with what to
 * do instead. Audited before a byte is served.
 */
export async function downloadItem(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answeringDownloadErrors(async () => {
    const mailbox = await mailboxParam(request);
    if ('response' in mailbox) return mailbox.response;
    const services = await getServices();
    const id = request.params.id ?? '';
    const snapshot = await findSnapshot(
      services.vault,
      mailbox.mailboxId,
      id === 'latest' ? { latest: true } : { snapshotId: id },
    );
    if (!snapshot) return problem(404, `No snapshot '${id}' for this mailbox`);
    // ASP.NET Core's routing leaves an encoded '/' (%2F) encoded in a route value; Graph ids can hold one.
    const itemId = (request.params.itemId ?? '').replace(/%2F/gi, '/');
    const item = await findSnapshotItem(services.vault, snapshot, itemId);
    if (!item) return problem(404, `No item '${itemId.slice(0, 80)}' in snapshot ${snapshot.snapshotId}`);
    if (!isDownloadableClass(item.type))
      return problem(422, 'Not downloadable as a file', [notDownloadableReason(item.type)]);
    const converter = await stagingConverterOf(services);
    const at = new Date();
    const downloadId = newDownloadId('item', at);
    await auditCall(request, context, {
      action: 'download',
      subject: downloadId,
      source: {
        mailbox: snapshot.upn ?? mailbox.mailboxId,
        mailboxId: mailbox.mailboxId,
        snapshotId: snapshot.snapshotId,
      },
      what: { itemId, type: item.type },
    });
    const { body, idPath } = await openItemContent(converter, item, downloadId, at);
    return {
      status: 200,
      headers: {
        'Content-Type': 'message/rfc822',
        'Content-Disposition': attachment(`${(item.subject ?? 'message').slice(0, 100) || 'message'}.eml`),
        'X-Download-Id': downloadId,
        'X-Staged-Id-Path': idPath,
      },
      body,
    };
  });
}

/** The selection fields a download shares with a restore (folders, dates, item ids of a search result). */
const SELECTION_FIELDS = [
  'sourceMailbox',
  'sourceArchive',
  'snapshot',
  'asOf',
  'folders',
  'itemIds',
  'createdFrom',
  'createdTo',
  'receivedFrom',
  'receivedTo',
  'itemTypes',
] as const;

/** The body of `POST /api/downloads`: a restore's selection and a format; unknown fields are refused. */
export const DownloadBody = z
  .object({
    ...Object.fromEntries(SELECTION_FIELDS.map((name) => [name, RestoreBody.shape[name]])),
    format: z.enum(['mbox', 'zip']).default('mbox'),
  })
  .strict()
  // The restore body's own checks (asOf or snapshot, ranges in order) hold for a download's selection too.
  .superRefine((body, ctx) => {
    const { format: _format, ...selection } = body as Record<string, unknown>;
    const parsed = RestoreBody.safeParse(selection);
    if (!parsed.success)
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom', message: issue.message });
  });

/** `POST /api/downloads`: validate, record the request and its audit record, start the export, answer 202. */
export async function startDownload(
  request: HttpRequest,
  client: df.DurableClient,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await readJsonBody(request, DownloadBody);
  if ('response' in body) return body.response;
  return answeringDownloadErrors(async () => {
    const services = await getServices();
    const { config, graph, vault } = services;
    const at = new Date();
    const downloadId = newDownloadId('download', at);
    const { format, ...selection } = body.value as { format: 'mbox' | 'zip' } & Record<string, unknown>;
    const auth = authorizationOf(request);
    const { caller } = auth;
    const meta = { restoreId: downloadId, requestedAt: at.toISOString(), requestedBy: caller.name };
    const asRestore = RestoreBody.parse({ ...selection, destination: 'newFolder', collisions: 'copy' });
    // Before anything of the named mailbox is read: resolving the selection answers differently for a folder,
    // a date range or an item the mailbox has or lacks, which would tell a self-service caller about another's.
    if (auth.selfService) {
      const refuse = () => refuseOthersMailbox(auth);
      const named = await lookUpOrRefuse(services, auth, asRestore.sourceMailbox, 'sourceMailbox', refuse);
      await authorizeMailboxRead(services, auth, named.ownerMailboxId);
    }
    const { request: resolved, selected } = await resolveRestoreRequest(graph, vault, asRestore, meta);
    await authorizeMailboxRead(services, auth, resolved.source.mailboxId);
    await stagingConverterOf(services);
    const download: DownloadRequest = {
      downloadId,
      requestedAt: meta.requestedAt,
      requestedBy: meta.requestedBy,
      requesterOid: caller.oid,
      format,
      source: resolved.source,
      filters: resolved.filters,
    };
    const startBy = await recordDownloadRequest(vault, download);
    // An export that is never started must not keep its snapshot from pruning: without its audit record, no export.
    await auditCall(request, context, {
      action: 'download',
      subject: downloadId,
      source: {
        mailbox: resolved.source.upn ?? resolved.source.mailboxId,
        mailboxId: resolved.source.mailboxId,
        snapshotId: resolved.source.snapshotId,
      },
      what: { filters: resolved.filters, format, selectedItems: selected },
    }).catch(async (error: unknown) => {
      await withdrawDownloadRequest(vault, download);
      throw error;
    });
    if (!startsInTime(startBy)) {
      await withdrawDownloadRequest(vault, download);
      return notStartedInTime('download');
    }
    await startOrchestration(client, contracts.downloadExport, downloadId, {
      downloadId,
      format,
      windowsPerEpisode: config.backup.windowsPerEpisode,
    });
    context.log(`Started download ${downloadId}: ${selected} item(s) of snapshot ${resolved.source.snapshotId}`);
    return accepted(request, 'downloads', downloadId, {
      snapshotId: resolved.source.snapshotId,
      selectedItems: selected,
      format,
    });
  });
}

function fileLink(request: HttpRequest, id: string, report: DownloadReport | undefined) {
  if (!report?.file || Date.parse(report.file.expiresAt) <= Date.now()) return null;
  return {
    url: `${originOf(request)}/api/downloads/${id}/file`,
    bytes: report.file.bytes,
    expiresAt: report.file.expiresAt,
  };
}

/** `GET /api/downloads/{id}`: status, progress, the report, and the file's link while it lasts. */
export async function getDownload(request: HttpRequest, client: df.DurableClient): Promise<HttpResponseInit> {
  const param = idParam(request, DOWNLOAD_ID, 'download', DOWNLOAD_ID_EXAMPLE);
  if ('response' in param) return param.response;
  const { id } = param;
  const { vault } = await getServices();
  const report = await vault.readJson<DownloadReport>(layout.downloadReport(id));
  const asked = await vault.readJson<DownloadRequest>(layout.downloadRequest(id));
  if (!report && !asked) return notInVault('download', id);
  authorizeOwnDownload(request, asked);
  const status = await findInstance(client, id);
  if (!status && !report) return problem(404, `No download '${id}'`);
  return {
    status: 200,
    jsonBody: {
      id,
      runtimeStatus: status?.runtimeStatus ?? 'Completed',
      status: report?.status ?? (status?.runtimeStatus === 'Failed' ? 'Failed' : 'Running'),
      progress: status?.customStatus ?? null,
      download: fileLink(request, id, report),
      report: report ?? null,
    },
  };
}

/** A self-service caller follows and fetches only the downloads they asked for. */
function authorizeOwnDownload(request: HttpRequest, asked: DownloadRequest | undefined): void {
  authorizeRestoreRead(authorizationOf(request), asked?.requesterOid);
}

/**
 * `GET /api/downloads/{id}/file`: the export's MBOX or ZIP, streamed from the vault through the app (so the
 * app's authentication and audit apply to every fetch), until the link expires (410 after).
 */
export async function getDownloadFile(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const param = idParam(request, DOWNLOAD_ID, 'download', DOWNLOAD_ID_EXAMPLE);
  if ('response' in param) return param.response;
  const { id } = param;
  const { vault } = await getServices();
  const report = await vault.readJson<DownloadReport>(layout.downloadReport(id));
  const asked = await vault.readJson<DownloadRequest>(layout.downloadRequest(id));
  if (!report && !asked) return notInVault('download', id);
  authorizeOwnDownload(request, asked);
  if (!report?.file) return problem(404, `Download '${id}' has no file (yet)`);
  if (Date.parse(report.file.expiresAt) <= Date.now()) return problem(410, `The file of download '${id}' has expired`);
  const opened = await vault.openBlob(report.file.blob);
  if (!opened) return problem(410, `The file of download '${id}' is no longer in the vault`);
  await auditCall(request, context, { action: 'fetchDownload', subject: id, what: { format: report.format } });
  return {
    status: 200,
    headers: {
      'Content-Type': report.format === 'mbox' ? 'application/mbox' : 'application/zip',
      'Content-Length': String(opened.length),
      'Content-Disposition': attachment(`mailbox-vault-${id}.${report.format}`),
    },
    body: opened.stream,
  };
}

// Taking a copy of a message out of the vault is a restore's right (a reader sees subjects, not contents).
registerApiRoute(
  'downloadItem',
  'GET',
  'snapshots/{id}/items/{itemId}/content',
  { role: 'restorer', selfService: true, audit: 'download' },
  downloadItem,
);
registerDurableApiRoute(
  'startDownload',
  'POST',
  'downloads',
  { role: 'restorer', selfService: true, audit: 'download' },
  startDownload,
);
registerDurableApiRoute('getDownload', 'GET', 'downloads/{id}', { role: 'reader', selfService: true }, getDownload);
registerApiRoute(
  'getDownloadFile',
  'GET',
  'downloads/{id}/file',
  { role: 'restorer', selfService: true, audit: 'fetchDownload' },
  getDownloadFile,
);
