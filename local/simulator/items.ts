import { requireFolder } from './folders.js';
import { SimHttpError, sendJson } from './http.js';
import { applySelect, itemExtendedProperties, itemJson, matchesFilter, type Comparison } from './odata.js';
import { listBody, pageOf } from './paging.js';
import type { MailboxRequest } from './request.js';
import type { SimItem, SimMailbox } from './tenant.js';

/** GET /folders/{folderId}/items: newest first, filtered and selected as asked. */
export function listItems(request: MailboxRequest): void {
  const { state, res, version, mailbox, mailboxPath, params, query } = request;
  const folder = requireFolder(request, params.folderId!);
  const page = pageOf(
    request,
    matchingItems(mailbox, folder.id, query.filter),
    `${mailboxPath}/folders/${encodeURIComponent(params.folderId!)}/items`,
    10,
  );
  const value = page.value.map((item) => applySelect(itemWithExtendedProperties(request, item), query.select));
  const context = `${state.baseUrl}/${version}/$metadata#admin/exchange/mailboxes/${mailbox.id}/folders('${params.folderId}')/items`;
  sendJson(res, 200, listBody(context, { ...page, value }));
}

/**
 * A folder's items matching a filter, newest first. Kept while the mailbox's change sequence stands (every change
 * to an item takes a new number), so paging through a large folder does not sort and filter it for every page.
 */
const listings = new WeakMap<SimMailbox, Map<string, SimItem[]>>();
const LISTINGS_CACHED_PER_MAILBOX = 8;

function matchingItems(mailbox: SimMailbox, folderId: string, filter: Comparison[]): SimItem[] {
  const key = JSON.stringify([folderId, mailbox.seq, filter]);
  let cached = listings.get(mailbox);
  if (!cached) listings.set(mailbox, (cached = new Map()));
  const hit = cached.get(key);
  if (hit) return hit;
  const items = mailbox
    .itemsIn(folderId)
    .sort((a, b) => b.createdDateTime.localeCompare(a.createdDateTime) || a.id.localeCompare(b.id))
    .filter((item) => matchesFilter(itemJson(item), filter));
  cached.set(key, items);
  if (cached.size > LISTINGS_CACHED_PER_MAILBOX) cached.delete(cached.keys().next().value!);
  return items;
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
