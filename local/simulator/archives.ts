import type { ServerResponse } from 'node:http';
import { SimHttpError } from './http.js';
import type { GraphRequest } from './request.js';
import type { SimMailbox, SimTenant } from './tenant.js';

/**
 * In-place archives as Graph's beta serves them (docs: "Handle archive mailbox redirects"). A user's archive is
 * a mailbox of its own, named by settings/exchange on beta only. An auto-expanding archive keeps some folders'
 * content in auxiliary mailboxes: the main archive still lists such an expanded folder, but reads of it answer
 * 308 to the auxiliary mailbox (which may expand it further), exportItems answers its items with a per-item
 * `ErrorArchiveFolderMovedPermanently` naming the auxiliary mailbox's exportItems URL, and an import session of
 * the main archive answers 409 for it, naming the mailbox whose session it needs. Archives take folder ids only,
 * never well-known names (tenant.ts), and v1.0 does not serve them.
 */

/** The user's in-place archive: not in the directory under the UPN, and with an empty IPM tree. */
export function addArchive(tenant: SimTenant, owner: SimMailbox, id?: string): SimMailbox {
  const archive = tenant.addMailbox(owner.upn, {
    ...(id ? { id } : {}),
    kind: 'archive',
    displayName: `${owner.displayName} (archive)`,
    listed: false,
    wellKnownFolders: false,
  });
  owner.archiveMailboxId = archive.id;
  return archive;
}

/** An auxiliary archive (auto-expanding archiving made it): reached only through redirects. */
export function addAuxiliaryArchive(tenant: SimTenant, archive: SimMailbox, id?: string): SimMailbox {
  return tenant.addMailbox(archive.upn, {
    ...(id ? { id } : {}),
    kind: 'auxiliaryArchive',
    displayName: `${archive.displayName} (auxiliary)`,
    listed: false,
    wellKnownFolders: false,
  });
}

/**
 * Expands a folder of `from` into `to`: `to` gets a folder of the same id, the items move there, and `from`
 * redirects to `to` from now on. Expanding the same folder of `to` again makes a chain.
 */
export function expandFolder(from: SimMailbox, folderId: string, to: SimMailbox): void {
  const folder = from.folder(folderId);
  if (!folder) throw new Error(`No folder '${folderId}' in ${from.displayName}`);
  if (!to.folders.has(folderId))
    to.folders.set(folderId, { ...folder, parentFolderId: to.rootFolderId, seq: to.nextSeq() });
  for (const item of from.itemsIn(folderId)) {
    from.items.delete(item.id);
    to.items.set(item.id, { ...item, seq: to.nextSeq() });
  }
  from.expandedFolders.set(folderId, to);
}

/** v1.0 covers primary and shared mailboxes only (the GA announcement): an archive's id is refused there. */
export function refuseArchiveOnV1(version: string, mailbox: SimMailbox): void {
  if (version !== 'beta' && (mailbox.kind === 'archive' || mailbox.kind === 'auxiliaryArchive'))
    throw new SimHttpError(400, 'ErrorInvalidRequest', 'Archive mailboxes are available on the beta endpoint only.');
}

/** Reads of a folder (and item deletes) that an expanded folder answers with a 308. */
const REDIRECTED_OPERATIONS = new Set([
  'getFolder',
  'listChildFolders',
  'listItems',
  'itemDelta',
  'getItem',
  'deleteItem',
]);

/**
 * The Location of the 308 for a request on an expanded folder, or undefined. The path is the request's own,
 * in the auxiliary mailbox; its casing varies as Graph's does (a field report saw `/admin/Exchange/Mailboxes/`).
 */
export function archiveRedirect(
  { state, url, version }: GraphRequest,
  mailbox: SimMailbox,
  operation: string,
  path: string[],
  folderId: string | undefined,
): string | undefined {
  const to = folderId === undefined ? undefined : mailbox.expandedFolders.get(folderId);
  if (!to || !REDIRECTED_OPERATIONS.has(operation)) return undefined;
  mailbox.redirectsAnswered.reads++;
  const rest = path.map(encodeURIComponent).join('/');
  return `${state.baseUrl}/${version}/admin/Exchange/Mailboxes/${to.id}/${rest}${url.search}`;
}

export function sendRedirect(res: ServerResponse, location: string): void {
  res.writeHead(308, { Location: location, 'Content-Length': 0 }).end();
}

/**
 * The per-item error for an id this mailbox does not hold but one of its auxiliary archives leads to: its
 * message is the exportItems URL of the next mailbox on the way.
 */
export function exportRedirect(
  { state, version }: GraphRequest,
  mailbox: SimMailbox,
  itemId: string,
): { code: string; message: string } | undefined {
  const next = auxiliariesOf(mailbox).find((aux) => leadsTo(aux, itemId));
  if (!next) return undefined;
  mailbox.redirectsAnswered.exports++;
  return {
    code: 'ErrorArchiveFolderMovedPermanently',
    message: `${state.baseUrl}/${version}/admin/exchange/mailboxes/${next.id}/exportItems`,
  };
}

/**
 * An import into an expanded folder, refused as Exchange refuses it: 409, in the Outlook endpoint's own shape
 * (`Message`, not Graph's error object), naming the mailbox whose import session the folder needs.
 */
export function importRedirect(res: ServerResponse, mailbox: SimMailbox, folderId: string): boolean {
  const to = mailbox.expandedFolders.get(folderId);
  if (!to) return false;
  mailbox.redirectsAnswered.imports++;
  const body = JSON.stringify({
    Message: `Invalid import session. The target session is expected in mailbox ${to.id}.`,
  });
  res.writeHead(409, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  return true;
}

function auxiliariesOf(mailbox: SimMailbox): SimMailbox[] {
  return [...new Set(mailbox.expandedFolders.values())];
}

function leadsTo(mailbox: SimMailbox, itemId: string): boolean {
  return mailbox.items.has(itemId) || auxiliariesOf(mailbox).some((aux) => leadsTo(aux, itemId));
}
