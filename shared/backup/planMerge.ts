import type { DeltaPage } from '../graph/index.js';
import { itemMetaOf } from '../mailbox/index.js';
import { groupByKey, mergeSorted } from '../vault/externalSort.js';
import type { ItemMeta } from '../vault/records.js';
import { previousKey, type PreviousItem } from './baseline.js';
import type { ItemChangeRecord } from './itemChanges.js';

/** An item record of a folder's round, before it is compared with the last snapshot. */
export type RoundRecord = { kind: 'upsert'; item: ItemMeta } | { kind: 'remove'; id: string; folderId: string };

export const roundRecordKey = (record: RoundRecord): string => (record.kind === 'upsert' ? record.item.id : record.id);

/** An item as a delta page or a listing gives it. */
export type ListedItem = Parameters<typeof itemMetaOf>[0];

/** A page's records, as the round listed them (compared with the last snapshot later, by id). */
export function pageRecords(page: DeltaPage<ListedItem>, folderId: string): RoundRecord[] {
  const out: RoundRecord[] = page.changed.map((listed) => ({ kind: 'upsert', item: itemMetaOf(listed, folderId) }));
  for (const removed of page.removed) out.push({ kind: 'remove', id: removed.id, folderId });
  return out;
}

/** An item record of the change list, and whether its version is the one the plan exports. */
export interface ResolvedItem {
  record: ItemChangeRecord;
  planned?: true;
}

/** Everything the rounds and the last snapshot say about one item id. */
export interface ItemGroup {
  id: string;
  previous?: PreviousItem;
  records: RoundRecord[];
}

/**
 * The rounds' records and the last snapshot's items, both in id order, grouped by id (records of an id in the
 * order the rounds listed them).
 */
export async function* itemGroups(
  previous: AsyncIterable<PreviousItem>,
  rounds: AsyncIterable<RoundRecord>,
): AsyncGenerator<ItemGroup> {
  type Side = { previous: PreviousItem } | { round: RoundRecord };
  const keyOfSide = (side: Side) => ('previous' in side ? previousKey(side.previous) : roundRecordKey(side.round));
  const merged = mergeSorted<Side>(
    [tagged(previous, (item) => ({ previous: item })), tagged(rounds, (round) => ({ round }))],
    keyOfSide,
  );
  for await (const { key, records } of groupByKey(merged, keyOfSide)) {
    const group: ItemGroup = { id: key, records: [] };
    for (const side of records)
      if ('previous' in side) group.previous = side.previous;
      else group.records.push(side.round);
    yield group;
  }
}

/** A version is known when the last snapshot stored the item with the same changeKey: no export needed. */
export function knownVersion(
  previous: PreviousItem | undefined,
  item: ItemMeta,
): Extract<ItemChangeRecord, { kind: 'upsert' }> {
  if (!previous || previous.changeKey !== item.changeKey) return { kind: 'upsert', item };
  const { blob, sha256, length } = previous;
  return { kind: 'upsert', item, known: { blob, sha256, length } };
}

/**
 * One item's change records: a removal per folder that removed it, the last listing per folder that listed it
 * (a round may list an item twice, changed between two pages), compared with the last snapshot. Of the new
 * versions, the last listed is planned: Graph refuses an exportItems call that names an id twice.
 */
export function resolveGroup(group: ItemGroup): {
  resolved: ResolvedItem[];
  upsertedIn: string[];
  removedIn: Set<string>;
} {
  const lastListing = new Map<string, ItemMeta>();
  const removedIn = new Set<string>();
  for (const record of group.records) {
    if (record.kind === 'remove') removedIn.add(record.folderId);
    else {
      lastListing.delete(record.item.folderId); // keep the folders in the order of their last listing
      lastListing.set(record.item.folderId, record.item);
    }
  }
  const resolved: ResolvedItem[] = [...removedIn].map((folderId) => ({
    record: { kind: 'remove', id: group.id, folderId },
  }));
  let lastNew: ResolvedItem | undefined;
  for (const item of lastListing.values()) {
    const entry: ResolvedItem = { record: knownVersion(group.previous, item) };
    resolved.push(entry);
    if (entry.record.kind === 'upsert' && !entry.record.known) lastNew = entry;
  }
  if (lastNew) lastNew.planned = true;
  return { resolved, upsertedIn: [...lastListing.keys()], removedIn };
}

export async function* tagged<T, U>(source: AsyncIterable<T>, wrap: (record: T) => U): AsyncGenerator<U> {
  for await (const record of source) yield wrap(record);
}
