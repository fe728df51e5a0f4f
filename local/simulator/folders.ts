import { readJsonBody, SimHttpError, sendJson } from './http.js';
import { applySelect, folderExtendedProperties, folderJson, matchesFilter } from './odata.js';
import { listBody, pageOf } from './paging.js';
import type { MailboxRequest } from './request.js';
import type { SimFolder } from './tenant.js';

/** The folder a path names by id or well-known name, or Graph's 404. */
export function requireFolder({ mailbox }: MailboxRequest, idOrName: string): SimFolder {
  const folder = mailbox.folderByIdOrName(idOrName);
  if (!folder)
    throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified folder could not be found in the store.');
  return folder;
}

/** GET /folders: the top-level folders (the root's children). */
export function listFolders(request: MailboxRequest): void {
  const { mailbox, mailboxPath } = request;
  sendFolderList(request, mailbox.folders.get(mailbox.rootFolderId)!, `${mailboxPath}/folders`);
}

/** GET /folders/{folderId}/childFolders */
export function listChildFolders(request: MailboxRequest): void {
  const folderId = request.params.folderId!;
  const path = `${request.mailboxPath}/folders/${encodeURIComponent(folderId)}/childFolders`;
  sendFolderList(request, requireFolder(request, folderId), path);
}

function sendFolderList(request: MailboxRequest, parent: SimFolder, path: string): void {
  const { state, res, version, mailbox, query } = request;
  const all = mailbox
    .childFolders(parent.id)
    .map((folder) => ({ folder, json: folderJson(state.baseUrl, version, mailbox, folder) }))
    .filter(({ json }) => matchesFilter(json, query.filter))
    .map(({ folder, json }) => applySelect(withExtendedProperties(request, folder, json), query.select))
    .map((json) => (state.settings.listWellKnownNames === false ? { ...json, wellKnownName: undefined } : json));
  const page = pageOf(request, all, path, 10);
  const context = `${state.baseUrl}/${version}/$metadata#admin/exchange/mailboxes/${mailbox.id}/folders`;
  sendJson(res, 200, listBody(context, page));
}

/** GET /folders/{folderId} */
export function getFolder(request: MailboxRequest): void {
  const { state, res, version, mailbox, query } = request;
  const folder = requireFolder(request, request.params.folderId!);
  const json = folderJson(state.baseUrl, version, mailbox, folder);
  sendJson(res, 200, {
    '@odata.context': `${state.baseUrl}/${version}/$metadata#admin/exchange/mailboxes/${mailbox.id}/folders/$entity`,
    ...applySelect(withExtendedProperties(request, folder, json), query.select),
  });
}

function withExtendedProperties(
  { query }: MailboxRequest,
  folder: SimFolder,
  json: Record<string, unknown>,
): Record<string, unknown> {
  if (!query.expand.length) return json;
  return { ...json, singleValueExtendedProperties: folderExtendedProperties(folder, query.expand) };
}

/** POST /folders or /folders/{folderId}/childFolders: a new folder, its name unique among its siblings. */
export async function createFolder(request: MailboxRequest): Promise<void> {
  const { state, req, res, version, mailbox } = request;
  if (version === 'v1.0' && state.settings.rejectV1FolderCreate)
    throw new SimHttpError(405, 'MethodNotAllowed', 'The HTTP method is not allowed for this resource.');
  const body = await readJsonBody<{ displayName?: unknown; type?: unknown }>(req);
  const displayName = body.displayName;
  const type = body.type;
  if (typeof displayName !== 'string' || displayName.trim() === '')
    throw new SimHttpError(400, 'ErrorInvalidRequest', 'displayName is required.');
  if (typeof type !== 'string' || !/^IPF(\.|$)/.test(type))
    throw new SimHttpError(400, 'ErrorInvalidRequest', 'type must be a folder class such as IPF.Note.');
  const parent = mailbox.folderByIdOrName(request.params.folderId ?? mailbox.rootFolderId);
  if (!parent) throw new SimHttpError(404, 'ErrorItemNotFound', 'The parent folder could not be found.');
  const taken = mailbox.childFolders(parent.id).some((f) => f.displayName.toLowerCase() === displayName.toLowerCase());
  if (taken) throw new SimHttpError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
  const folder = state.tenant.addFolder(mailbox, parent.id, displayName, type);
  sendJson(res, 201, folderEntity(request, folder));
}

/** PATCH /folders/{folderId}: renames the folder when the patch has a displayName. */
export async function updateFolder(request: MailboxRequest): Promise<void> {
  const { state, req, res, mailbox } = request;
  const folder = requireFolder(request, request.params.folderId!);
  const patch = await readJsonBody<{ displayName?: unknown }>(req);
  if (patch.displayName !== undefined) {
    if (typeof patch.displayName !== 'string' || !patch.displayName.trim())
      throw new SimHttpError(400, 'ErrorInvalidRequest', 'displayName must be a non-empty string.');
    state.tenant.renameFolder(mailbox, folder.id, patch.displayName);
  }
  sendJson(res, 200, folderEntity(request, folder));
}

/** A created or updated folder, with the context Graph gives those answers. */
function folderEntity({ state, version, mailbox }: MailboxRequest, folder: SimFolder): Record<string, unknown> {
  return {
    '@odata.context': `${state.baseUrl}/${version}/$metadata#admin/exchange/mailboxes('${encodeURIComponent(mailbox.id)}')/folders/$entity`,
    ...folderJson(state.baseUrl, version, mailbox, folder),
  };
}
