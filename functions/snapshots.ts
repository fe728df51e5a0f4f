import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { MailboxNotFoundError } from '../shared/graph/index.js';
import { isMailboxId, isUpn, parseFolderPath } from '../shared/mailbox/index.js';
import { getServices } from '../shared/services.js';
import { archiveMailboxOf } from '../shared/vault/archiveLinks.js';
import type { ManifestItem, SnapshotRecord } from '../shared/vault/records.js';
import { browseFolder, type FolderPage } from '../shared/vault/snapshotBrowser.js';
import { findSnapshot, listSnapshots } from '../shared/vault/snapshotCatalog.js';
import { authorizeMailboxRead, refuseOthersMailbox } from '../shared/access/policy.js';
import { authorizationOf, originOf, problem, registerApiRoute } from './http.js';

/**
 * `mailbox=` (a UPN or a mailbox id), and with `archive=true` the vault mailbox of its in-place archive; a
 * self-service caller may name only their own (shared/access/policy.ts).
 */
export async function mailboxParam(
  request: HttpRequest,
): Promise<{ mailboxId: string } | { response: HttpResponseInit }> {
  const auth = authorizationOf(request);
  const mailbox = await ownMailboxParam(request);
  // A self-service caller is told nothing of other names: one without a mailbox is refused as another's mailbox.
  if ('response' in mailbox && auth.selfService && mailbox.response.status === 404) refuseOthersMailbox(auth);
  if ('response' in mailbox) return mailbox;
  const services = await getServices();
  await authorizeMailboxRead(services, auth, mailbox.mailboxId);
  if (request.query.get('archive') !== 'true') return mailbox;
  const archiveMailboxId = await archiveMailboxOf(services.vault, mailbox.mailboxId);
  if (!archiveMailboxId) return { response: problem(404, 'No in-place archive of this mailbox is in the vault') };
  return { mailboxId: archiveMailboxId };
}

async function ownMailboxParam(request: HttpRequest): Promise<{ mailboxId: string } | { response: HttpResponseInit }> {
  const value = request.query.get('mailbox') ?? '';
  if (isMailboxId(value)) return { mailboxId: value };
  if (!isUpn(value))
    return {
      response: problem(400, 'The request is not valid', [
        `mailbox: a user principal name or mailbox id is required, got '${value.slice(0, 80)}'`,
      ]),
    };
  const { graph } = await getServices();
  try {
    return { mailboxId: (await graph.getMailboxIds(value)).primaryMailboxId };
  } catch (error) {
    if (error instanceof MailboxNotFoundError) return { response: problem(404, `No mailbox for '${value}'`) };
    throw error;
  }
}

export function pageParams(request: HttpRequest): { top: number; skip: number } | { response: HttpResponseInit } {
  const top = Number(request.query.get('top') ?? 100);
  const skip = Number(request.query.get('skip') ?? 0);
  const errors: string[] = [];
  if (!Number.isInteger(top) || top < 1 || top > 1000) errors.push('top: must be a whole number from 1 to 1000');
  if (!Number.isInteger(skip) || skip < 0) errors.push('skip: must be a whole number from 0');
  return errors.length ? { response: problem(400, 'The request is not valid', errors) } : { top, skip };
}

function snapshotJson(s: SnapshotRecord) {
  return {
    id: s.snapshotId,
    takenAt: s.takenAt,
    committedAt: s.committedAt,
    status: s.status,
    items: s.itemCount,
    folders: s.folderCount,
    bytes: s.totalBytes,
    failedItems: s.failedItemCount,
    runId: s.runId,
    ...(s.archiveOf ? { archiveOf: s.archiveOf } : {}),
  };
}

export function itemJson(i: ManifestItem) {
  return {
    id: i.id,
    type: i.type,
    subject: i.subject ?? null,
    sender: i.sender ?? null,
    receivedDateTime: i.receivedDateTime ?? null,
    createdDateTime: i.createdDateTime ?? null,
    size: i.size,
    storedBytes: i.length,
    stale: i.stale ?? false,
  };
}

/**
 * `GET /api/snapshots?mailbox=…`: committed snapshots of a mailbox, newest first, and those of its in-place
 * archive (a vault mailbox of its own) alongside.
 */
export async function listSnapshotsHandler(request: HttpRequest): Promise<HttpResponseInit> {
  const mailbox = await mailboxParam(request);
  if ('response' in mailbox) return mailbox.response;
  const { vault } = await getServices();
  const snapshots = await listSnapshots(vault, mailbox.mailboxId);
  const archiveMailboxId = await archiveMailboxOf(vault, mailbox.mailboxId);
  const archive = archiveMailboxId
    ? { mailboxId: archiveMailboxId, snapshots: (await listSnapshots(vault, archiveMailboxId)).map(snapshotJson) }
    : null;
  return { status: 200, jsonBody: { mailboxId: mailbox.mailboxId, snapshots: snapshots.map(snapshotJson), archive } };
}

/**
 * `GET /api/snapshots/{id}/items?mailbox=…&folder=Inbox/Projects&top=100&skip=0`: one folder of a snapshot,
 * its sub-folders and a page of its items with what the manifest holds, so an admin can pick what to restore.
 */
export async function browseSnapshot(request: HttpRequest): Promise<HttpResponseInit> {
  const mailbox = await mailboxParam(request);
  if ('response' in mailbox) return mailbox.response;
  const page = pageParams(request);
  if ('response' in page) return page.response;
  const id = request.params.id ?? '';
  const { vault } = await getServices();
  const snapshot = await findSnapshot(
    vault,
    mailbox.mailboxId,
    id === 'latest' ? { latest: true } : { snapshotId: id },
  );
  if (!snapshot) return problem(404, `No snapshot '${id}' for this mailbox`);
  const folderText = request.query.get('folder') ?? '';
  const found = await browseFolder(vault, snapshot, parseFolderPath(folderText), page);
  if (!found) return problem(404, `No folder '${folderText}' in snapshot ${snapshot.snapshotId}`);
  return { status: 200, jsonBody: folderPageJson(request, snapshot, found, page) };
}

function folderPageJson(
  request: HttpRequest,
  snapshot: SnapshotRecord,
  found: FolderPage,
  page: { top: number; skip: number },
) {
  const next = page.skip + page.top < found.total ? new URL(request.url) : undefined;
  next?.searchParams.set('skip', String(page.skip + page.top));
  const { folder } = found;
  return {
    snapshot: { id: snapshot.snapshotId, takenAt: snapshot.takenAt, status: snapshot.status },
    folder: { id: folder.id, path: folder.path, type: folder.type, items: found.total },
    folders: found.children.map(({ folder: f, items }) => ({
      id: f.id,
      name: f.displayName,
      path: f.path,
      type: f.type,
      items,
    })),
    items: found.items.map(itemJson),
    ...(next ? { nextLink: `${originOf(request)}${next.pathname}${next.search}` } : {}),
  };
}

registerApiRoute('listSnapshots', 'GET', 'snapshots', { role: 'reader', selfService: true }, listSnapshotsHandler);
registerApiRoute(
  'browseSnapshot',
  'GET',
  'snapshots/{id}/items',
  { role: 'reader', selfService: true },
  browseSnapshot,
);
