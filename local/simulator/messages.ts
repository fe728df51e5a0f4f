import { once } from 'node:events';
import { requireFolder } from './folders.js';
import { SimHttpError, sendJson } from './http.js';
import { isMessageClass, renderMime } from './mime.js';
import type { MailboxRequest } from './request.js';
import type { SimItem } from './tenant.js';

/**
 * The Outlook mail API under `/users/{id}`, as much of it as a download needs: a message's MIME (`$value`), a
 * folder's messages, and permanent deletion of a message or a folder (the docs' `permanentDelete` actions, which
 * move them to Purges: out of every client's reach).
 *
 * Ids: by default the ids an import returns are the mail API's ids too (field practice, graph-mailbox-api.md
 * §11). With `messageIds: 'listingOnly'` the mail API refuses them (400 ErrorInvalidIdMalformed) and knows a
 * message only by the id its folder listing gives, so a client's fallback can be tested.
 */

const LISTED_ID_PREFIX = 'AAkALgREST';

/** The id the mail API knows an item by. */
export function messageIdOf(request: MailboxRequest, item: SimItem): string {
  if (request.state.settings.messageIds !== 'listingOnly') return item.id;
  return `${LISTED_ID_PREFIX}${Buffer.from(item.id, 'utf8').toString('base64url')}`;
}

/** The message a path's id names, in this mailbox; only message classes are messages. */
function requireMessage(request: MailboxRequest): SimItem {
  const id = request.params.messageId!;
  let itemId = id;
  if (id.startsWith(LISTED_ID_PREFIX)) itemId = Buffer.from(id.slice(LISTED_ID_PREFIX.length), 'base64url').toString();
  else if (request.state.settings.messageIds === 'listingOnly')
    throw new SimHttpError(400, 'ErrorInvalidIdMalformed', 'Id is malformed.');
  const item = request.mailbox.items.get(itemId);
  if (!item || !isMessageClass(item.type))
    throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  return item;
}

/** GET /users/{id}/messages/{id}/$value: the message as MIME, streamed. */
export async function getMessageContent(request: MailboxRequest): Promise<void> {
  const { res } = request;
  const item = requireMessage(request);
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  for (const chunk of renderMime(item.spec)) {
    if (!res.write(chunk)) await once(res, 'drain');
  }
  res.end();
}

/** GET /users/{id}/mailFolders/{id}/messages: the folder's messages (id, subject, internetMessageId), one page. */
export function listMessages(request: MailboxRequest): void {
  const { state, res, version, mailbox, params } = request;
  const folder = requireFolder(request, params.folderId!);
  const value = mailbox
    .itemsIn(folder.id)
    .filter((item) => isMessageClass(item.type))
    .map((item) => ({
      id: messageIdOf(request, item),
      subject: item.spec.subject,
      internetMessageId: `<${item.spec.searchKey.toString('hex')}@simulator.contoso.example>`,
    }));
  sendJson(res, 200, {
    '@odata.context': `${state.baseUrl}/${version}/$metadata#users('${mailbox.upn}')/mailFolders('${folder.id}')/messages`,
    value,
  });
}

/** POST /users/{id}/messages/{id}/permanentDelete: 204; under hold, refused as a hard delete is. */
export function permanentDeleteMessage(request: MailboxRequest): void {
  const { state, mailbox, res } = request;
  const item = requireMessage(request);
  if (mailbox.onHold)
    throw new SimHttpError(
      403,
      'ErrorCannotDeleteObject',
      'The item is under a hold or retention policy and cannot be permanently deleted.',
    );
  state.tenant.deleteItem(mailbox, item.id);
  res.writeHead(204).end();
}

/** POST /users/{id}/mailFolders/{id}/permanentDelete: the folder, its subfolders and their items; 204. */
export function permanentDeleteFolder(request: MailboxRequest): void {
  const { state, mailbox, params, res } = request;
  const folder = requireFolder(request, params.folderId!);
  if (folder.wellKnownName || !mailbox.folders.has(folder.id))
    throw new SimHttpError(400, 'ErrorDeleteDistinguishedFolder', 'Distinguished folders cannot be deleted.');
  state.tenant.deleteFolder(mailbox, folder.id);
  res.writeHead(204).end();
}
