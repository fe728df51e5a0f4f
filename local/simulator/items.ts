import { requireFolder } from './folders.js';
import { SimHttpError, sendJson } from './http.js';
import { applySelect, itemExtendedProperties, itemJson, matchesFilter } from './odata.js';
import { listBody, pageOf } from './paging.js';
import type { MailboxRequest } from './request.js';
import type { SimItem } from './tenant.js';

/** GET /folders/{folderId}/items: newest first, filtered and selected as asked. */
export function listItems(request: MailboxRequest): void {
  const { state, res, version, mailbox, mailboxPath, params, query } = request;
  const folder = requireFolder(request, params.folderId!);
  const all = mailbox
    .itemsIn(folder.id)
    .sort((a, b) => b.createdDateTime.localeCompare(a.createdDateTime) || a.id.localeCompare(b.id))
    .filter((item) => matchesFilter(itemJson(item), query.filter))
    .map((item) => applySelect(itemWithExtendedProperties(request, item), query.select));
  const page = pageOf(request, all, `${mailboxPath}/folders/${encodeURIComponent(params.folderId!)}/items`, 10);
  const context = `${state.baseUrl}/${version}/$metadata#admin/exchange/mailboxes/${mailbox.id}/folders('${params.folderId}')/items`;
  sendJson(res, 200, listBody(context, page));
}

/** GET /folders/{folderId}/items/{itemId} */
export function getItem(request: MailboxRequest): void {
  const { state, res, version, mailbox, params, query } = request;
  const item = requireItem(request);
  sendJson(res, 200, {
    '@odata.context': `${state.baseUrl}/${version}/$metadata#admin/exchange/mailboxes/${mailbox.id}/folders('${params.folderId}')/items/$entity`,
    ...applySelect(itemWithExtendedProperties(request, item), query.select),
  });
}

/** The item the path names, which must be in the folder the path names. */
function requireItem(request: MailboxRequest): SimItem {
  const folder = requireFolder(request, request.params.folderId!);
  const item = request.mailbox.items.get(request.params.itemId!);
  if (!item || item.folderId !== folder.id)
    throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
  return item;
}

function itemWithExtendedProperties({ query }: MailboxRequest, item: SimItem): Record<string, unknown> {
  if (!query.expand.length) return itemJson(item);
  return { ...itemJson(item), singleValueExtendedProperties: itemExtendedProperties(item, query.expand) };
}
