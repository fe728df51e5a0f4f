import type { MailboxClient } from '../graph/index.js';
import { ITEM_META_PROPERTIES, itemMetaOf, type ItemMeta } from '../mailbox/index.js';
import type { ChangeRecord } from './types.js';

/** What completing a folder's metadata did, for the report. */
export interface MetadataOutcome {
  /** Items asked for again because their listing came without a search key. */
  asked: number;
  /** How they were asked for: the folder's item listing (a full round) or item GETs by $batch. */
  via: 'listing' | 'batch' | 'none';
  /** Items still without a search key afterwards: a restore cannot match them against the target. */
  withoutSearchKey: number;
}

/**
 * Subject, sender, received time and search key for the items of a folder's round that came without them.
 * Graph documents `$expand` of extended properties on item listings and item GETs, not on delta (which Exchange
 * refuses or ignores there): a full round takes them from one listing of the folder, an incremental round from
 * GETs of just the changed items, 20 to a `$batch` call. Records are completed in place.
 */
export async function completeItemMetadata(
  client: MailboxClient,
  mailboxId: string,
  folderId: string,
  records: ChangeRecord[],
  fullRound: boolean,
): Promise<MetadataOutcome> {
  const needing = new Map<string, ItemMeta>();
  for (const record of records)
    if (record.kind === 'upsert' && record.item.searchKey === undefined) needing.set(record.item.id, record.item);
  if (needing.size === 0) return { asked: 0, via: 'none', withoutSearchKey: 0 };
  const asked = needing.size;
  const options = { extendedProperties: ITEM_META_PROPERTIES };
  if (fullRound) {
    for await (const listed of client.listItems(mailboxId, folderId, options)) {
      const meta = needing.get(listed.id);
      if (meta && mergeProperties(meta, itemMetaOf(listed, folderId))) needing.delete(listed.id);
    }
  }
  // Items a full round listed that the listing did not (changed in between) are asked for one by one as well.
  if (needing.size > 0) {
    const refs = [...needing.keys()].map((id) => ({ id, folderId }));
    const { items } = await client.getItems(mailboxId, refs, options);
    for (const [id, item] of items)
      if (mergeProperties(needing.get(id)!, itemMetaOf(item, folderId))) needing.delete(id);
  }
  return { asked, via: fullRound ? 'listing' : 'batch', withoutSearchKey: needing.size };
}

/** Copies the extended properties Graph gave; true when the search key is among them. */
function mergeProperties(meta: ItemMeta, fetched: ItemMeta): boolean {
  if (fetched.subject !== undefined) meta.subject = fetched.subject;
  if (fetched.sender !== undefined) meta.sender = fetched.sender;
  if (fetched.receivedDateTime !== undefined) meta.receivedDateTime = fetched.receivedDateTime;
  if (fetched.searchKey !== undefined) meta.searchKey = fetched.searchKey;
  return meta.searchKey !== undefined;
}
