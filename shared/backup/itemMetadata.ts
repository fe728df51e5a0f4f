import { GraphRequestError, type MailboxClient } from '../graph/index.js';
import { ITEM_META_PROPERTIES, itemMetaOf, type ItemMeta } from '../mailbox/index.js';
import type { ChangeRecord } from './types.js';

/** What completing a folder's metadata did, for the report. */
export interface MetadataOutcome {
  /** Items asked for again because their listing came without a search key. */
  asked: number;
  /**
   * How they were read: the folder's listing (a full round), its listing filtered to what changed since the last
   * snapshot (a night), item GETs by $batch (what a listing did not return), or not at all.
   */
  via: 'listing' | 'changedListing' | 'batch' | 'none';
  /** Items still without a search key afterwards: a restore cannot match them against the target. */
  withoutSearchKey: number;
}

/** A folder's round, as far as reading its items' properties goes. */
export interface RoundToComplete {
  mailboxId: string;
  folderId: string;
  records: ChangeRecord[];
  fullRound: boolean;
  /** When the last snapshot's run started: every item a night's round lists changed after it. */
  changedSince?: Date;
}

/** Exchange's clock and ours differ a little: the filter reaches this much further back. */
const CLOCK_MARGIN_IN_MS = 10 * 60_000;

/**
 * Subject, sender, received time and search key for the items of a folder's round that came without them.
 * Graph documents `$expand` of extended properties on item listings and item GETs, not on delta (which Exchange
 * refuses or ignores there). A full round takes them from one listing of the folder; a night's round from the
 * folder's listing filtered to items modified since the last snapshot (one request for a folder's changes, where
 * GETs would cost one each); what a listing did not return (an item moved in keeps its time, a filter Graph
 * refuses) from item GETs, 20 to a `$batch` call. Records are completed in place.
 */
export async function completeItemMetadata(client: MailboxClient, round: RoundToComplete): Promise<MetadataOutcome> {
  const { mailboxId, folderId } = round;
  const needing = new Map<string, ItemMeta>();
  for (const record of round.records)
    if (record.kind === 'upsert' && record.item.searchKey === undefined) needing.set(record.item.id, record.item);
  if (needing.size === 0) return { asked: 0, via: 'none', withoutSearchKey: 0 };
  const asked = needing.size;
  const listing = listingFor(round);
  let via: MetadataOutcome['via'] = 'batch';
  if (listing) {
    try {
      for await (const listed of client.listItems(mailboxId, folderId, listing)) {
        const meta = needing.get(listed.id);
        if (meta && mergeProperties(meta, itemMetaOf(listed, folderId))) needing.delete(listed.id);
      }
      via = round.fullRound ? 'listing' : 'changedListing';
    } catch (error) {
      // A filter Graph does not take is no reason to go without: the GETs below read every item.
      if (!(error instanceof GraphRequestError && error.status === 400 && listing.filter)) throw error;
    }
  }
  if (needing.size > 0) {
    const refs = [...needing.keys()].map((id) => ({ id, folderId }));
    const { items } = await client.getItems(mailboxId, refs, { extendedProperties: ITEM_META_PROPERTIES });
    for (const [id, item] of items)
      if (mergeProperties(needing.get(id)!, itemMetaOf(item, folderId))) needing.delete(id);
  }
  return { asked, via, withoutSearchKey: needing.size };
}

/** The listing that carries the round's items, if any does: the whole folder, or what changed since a time. */
function listingFor(round: RoundToComplete): { extendedProperties: readonly string[]; filter?: string } | undefined {
  const extendedProperties = ITEM_META_PROPERTIES;
  if (round.fullRound) return { extendedProperties };
  if (!round.changedSince) return undefined;
  const since = new Date(round.changedSince.getTime() - CLOCK_MARGIN_IN_MS).toISOString().replace(/\.\d+Z$/, 'Z');
  return { extendedProperties, filter: `lastModifiedDateTime ge ${since}` };
}

/** Copies the extended properties Graph gave; true when the search key is among them. */
function mergeProperties(meta: ItemMeta, fetched: ItemMeta): boolean {
  if (fetched.subject !== undefined) meta.subject = fetched.subject;
  if (fetched.sender !== undefined) meta.sender = fetched.sender;
  if (fetched.receivedDateTime !== undefined) meta.receivedDateTime = fetched.receivedDateTime;
  if (fetched.searchKey !== undefined) meta.searchKey = fetched.searchKey;
  return meta.searchKey !== undefined;
}
