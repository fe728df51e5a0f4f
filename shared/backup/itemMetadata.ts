import { GraphRequestError, type MailboxClient } from '../graph/index.js';
import { ITEM_META_PROPERTIES, itemMetaOf, type ItemMeta } from '../mailbox/index.js';
import { compareKeys, ExternalSorter, type SortOptions } from '../vault/externalSort.js';
import { roundRecordKey, type RoundRecord } from './planMerge.js';

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

/**
 * A folder's round records in id order: held in memory up to a sorter's budget, in the vault beyond it (scratch
 * that `discard` deletes).
 */
export interface SpilledRound {
  read(): AsyncGenerator<RoundRecord>;
  discard(): Promise<void>;
}

/** The records added to a sorter, as a spilled round. */
export async function spilledRound(sorter: ExternalSorter<RoundRecord>): Promise<SpilledRound> {
  const sealed = await sorter.seal();
  return { read: () => sealed.read(), discard: () => sorter.discard() };
}

/** A folder's round, as far as reading its items' properties goes. */
export interface RoundToComplete {
  mailboxId: string;
  folderId: string;
  records: SpilledRound;
  /** Its upsert records that came without a search key. */
  withoutSearchKey: number;
  fullRound: boolean;
  /** When the last snapshot's run started: every item a night's round lists changed after it. */
  changedSince?: Date;
}

/** Round records completed together: the item GETs of what the listing did not give go out once per group. */
const JOIN_GROUP = 1_000;

/** Exchange's clock and ours differ a little: the filter reaches this much further back. */
const CLOCK_MARGIN_IN_MS = 10 * 60_000;

/**
 * Subject, sender, received time and search key for the items of a folder's round that came without them.
 * Graph documents `$expand` of extended properties on item listings and item GETs, not on delta (which Exchange
 * refuses or ignores there). A full round takes them from one listing of the folder; a night's round from the
 * folder's listing filtered to items modified since the last snapshot (one request for a folder's changes, where
 * GETs would cost one each); what a listing did not return (an item moved in keeps its time, a filter Graph
 * refuses) from item GETs, JOIN_GROUP items at a time, 20 to a `$batch` call. The listing is sorted by id
 * (`sortIn('listing')`) and merged with the round, the completed records sorted again (`sortIn('completed')`):
 * memory stays within the sorters' budgets whatever the folder's size. On success the round's own records are
 * discarded and the completed ones returned; on failure this leaves the round as it was given.
 */
export async function completeItemMetadata(
  client: MailboxClient,
  round: RoundToComplete,
  sortIn: (part: string) => SortOptions,
): Promise<MetadataOutcome & { records: SpilledRound }> {
  if (round.withoutSearchKey === 0) return { asked: 0, via: 'none', withoutSearchKey: 0, records: round.records };
  const listed = new ExternalSorter<ItemMeta>(sortIn('listing'), (meta) => meta.id);
  try {
    const via = await readListing(client, round, listed);
    const completed = await completeFromListing(client, round, (await listed.seal()).read(), sortIn('completed'));
    return { ...completed, via };
  } finally {
    await listed.discard();
  }
}

/**
 * The round's records completed from a listing already sorted by id (`listed`; the GETs read what it does not
 * give), sorted again into `sort`. On success the round's own records are discarded and the completed ones
 * returned; on failure this leaves the round as it was given.
 */
export async function completeFromListing(
  client: MailboxClient,
  round: RoundToComplete,
  listed: AsyncIterable<ItemMeta>,
  sort: SortOptions,
): Promise<Omit<MetadataOutcome, 'via'> & { records: SpilledRound }> {
  const completed = new ExternalSorter<RoundRecord>(sort, roundRecordKey);
  try {
    const counts = await joinById(client, round, listed, completed);
    const records = await spilledRound(completed);
    await round.records.discard();
    return { ...counts, records };
  } catch (error) {
    await completed.discard();
    throw error;
  }
}

/** The listing that carries the round's items into `listed`, if any does; how the properties are read. */
async function readListing(
  client: MailboxClient,
  round: RoundToComplete,
  listed: ExternalSorter<ItemMeta>,
): Promise<MetadataOutcome['via']> {
  const listing = listingFor(round);
  if (!listing) return 'batch';
  try {
    for await (const item of client.listItems(round.mailboxId, round.folderId, listing))
      await listed.add(itemMetaOf(item, round.folderId));
    return round.fullRound ? 'listing' : 'changedListing';
  } catch (error) {
    if (!filterRefused(error, listing)) throw error;
    return 'batch';
  }
}

/** A filter Graph does not take is no reason to go without: the GETs read every item the listing did not give. */
export function filterRefused(error: unknown, listing: { filter?: string }): boolean {
  return error instanceof GraphRequestError && error.status === 400 && listing.filter !== undefined;
}

/**
 * Merges the round with the listing, both in id order, into `completed`; the items the listing did not give are
 * read by GETs, a group at a time. Counts items (ids) asked for and those left without a search key.
 */
async function joinById(
  client: MailboxClient,
  round: RoundToComplete,
  listed: AsyncIterable<ItemMeta>,
  completed: ExternalSorter<RoundRecord>,
): Promise<{ asked: number; withoutSearchKey: number }> {
  const counts = { asked: 0, withoutSearchKey: 0 };
  const listing = listed[Symbol.asyncIterator]();
  let head = await listing.next();
  const listedAs = async (id: string) => {
    while (!head.done && compareKeys(head.value.id, id) < 0) head = await listing.next();
    return !head.done && head.value.id === id ? head.value : undefined;
  };
  const group: RoundRecord[] = [];
  const unlisted = new Map<string, ItemMeta[]>();
  const flush = async () => {
    counts.withoutSearchKey += await getUnlisted(client, round, unlisted);
    unlisted.clear();
    for (const record of group) await completed.add(record);
    group.length = 0;
  };
  try {
    let lastAsked: string | undefined;
    for await (const record of round.records.read()) {
      // A group ends between ids, so that every record of one item is completed by the same GET.
      if (group.length >= JOIN_GROUP && roundRecordKey(group.at(-1)!) !== roundRecordKey(record)) await flush();
      group.push(record);
      if (record.kind !== 'upsert' || record.item.searchKey !== undefined) continue;
      const meta = record.item;
      if (meta.id !== lastAsked) counts.asked++;
      lastAsked = meta.id;
      const fromListing = await listedAs(meta.id);
      if (!(fromListing && mergeProperties(meta, fromListing)))
        unlisted.set(meta.id, [...(unlisted.get(meta.id) ?? []), meta]);
    }
    await flush();
    return counts;
  } finally {
    await listing.return?.();
  }
}

/** Reads the items by id and completes their records; returns how many are still without a search key. */
async function getUnlisted(
  client: MailboxClient,
  round: RoundToComplete,
  unlisted: Map<string, ItemMeta[]>,
): Promise<number> {
  if (unlisted.size === 0) return 0;
  const { mailboxId, folderId } = round;
  const refs = [...unlisted.keys()].map((id) => ({ id, folderId }));
  const { items } = await client.getItems(mailboxId, refs, { extendedProperties: ITEM_META_PROPERTIES });
  let without = 0;
  for (const [id, metas] of unlisted) {
    const item = items.get(id);
    const fetched = item && itemMetaOf(item, folderId);
    if (fetched) for (const meta of metas) mergeProperties(meta, fetched);
    if (metas[0]!.searchKey === undefined) without++;
  }
  return without;
}

/** The listing that carries the round's items, if any does: the whole folder, or what changed since a time. */
export function listingFor(
  round: RoundToComplete,
): { extendedProperties: readonly string[]; filter?: string } | undefined {
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
