import { requireFolder } from './folders.js';
import { SimHttpError } from './http.js';
import type { MailboxRequest } from './request.js';

/**
 * Deleting items and folders, as the docs show it (answers 204). An item delete says how: `softDelete` moves the
 * item into Recoverable Items' deletions folder (`recoverableitemsdeletions`), `hardDelete` removes it for good,
 * which a mailbox under hold or retention refuses (403; Graph's code is not documented, this one is Exchange's).
 */

/** DELETE /folders/{folderId}/items/{itemId}?disposalType=softDelete|hardDelete */
export function deleteItem(request: MailboxRequest): void {
  const { state, mailbox, params, url, res } = request;
  const disposal = url.searchParams.get('disposalType')?.toLowerCase();
  if (disposal !== 'softdelete' && disposal !== 'harddelete')
    throw new SimHttpError(400, 'ErrorInvalidRequest', "disposalType must be 'softDelete' or 'hardDelete'.");
  const folder = requireFolder(request, params.folderId!);
  const item = mailbox.items.get(params.itemId!);
  if (!item || item.folderId !== folder.id)
    throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  // Soft-deleting what is already in Recoverable Items moves it on to Purges, which the API does not expose.
  const inRecoverableItems = folder.wellKnownName === 'recoverableitemsdeletions';
  if (disposal === 'softdelete' && !inRecoverableItems) state.tenant.softDeleteItem(mailbox, item.id);
  else if (disposal === 'harddelete' && mailbox.onHold)
    throw new SimHttpError(
      403,
      'ErrorCannotDeleteObject',
      'The item is under a hold or retention policy and cannot be permanently deleted.',
    );
  else state.tenant.deleteItem(mailbox, item.id);
  res.writeHead(204).end();
}

/**
 * DELETE /folders/{folderId}, /childFolders/{folderId}, and the same with `/$ref` (the v1.0 page's URL): the
 * folder, its subfolders and their items. Well-known folders cannot be deleted.
 */
export function deleteFolder(request: MailboxRequest): void {
  const { state, mailbox, params, res } = request;
  const folder = requireFolder(request, params.folderId!);
  if (folder.wellKnownName || !mailbox.folders.has(folder.id))
    throw new SimHttpError(400, 'ErrorDeleteDistinguishedFolder', 'Distinguished folders cannot be deleted.');
  if (params.parentId !== undefined && requireFolder(request, params.parentId).id !== folder.parentFolderId)
    throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified folder could not be found in the store.');
  state.tenant.deleteFolder(mailbox, folder.id);
  mailbox.expandedFolders.delete(folder.id);
  res.writeHead(204).end();
}
