import type { MailboxClient } from '../graph/index.js';
import { ITEM_META_PROPERTIES, itemMetaOf } from '../mailbox/index.js';
import { ExternalSorter, groupByKey, mergeSorted, type SortOptions } from '../vault/externalSort.js';
import type { ItemMeta } from '../vault/records.js';
import { previousKey, type PreviousItem } from './baseline.js';
import { knownVersion, roundRecordKey, tagged, type ResolvedItem, type RoundRecord } from './planMerge.js';
import type { ChangeRecord } from './types.js';

/**
 * Items changed this long before planning started still count as arriving during the run: Exchange's clock and
 * ours differ a little, and an item may take a moment to be listed after it is stamped.
 */
const ARRIVAL_MARGIN_IN_MS = 2 * 60_000;

/**
 * Per folder, how many items the snapshot will hold if everything planned is stored, counted item by item while
 * the rounds are merged with the last snapshot (two numbers per folder, whatever the mailbox's size).
 */
export class ExpectedCounts {
  /** Items a full round leaves in the folder: listed, not removed. */
  private readonly listed = new Map<string, number>();
  /** How a delta round moves the last snapshot's count: arrivals from elsewhere, removals of its items. */
  private readonly moved = new Map<string, number>();

  /** One item: the folder the last snapshot held it in, the folders whose rounds listed and removed it. */
  add(previousFolderId: string | undefined, upsertedIn: Iterable<string>, removedIn: Set<string>): void {
    for (const folderId of upsertedIn) {
      if (removedIn.has(folderId)) continue;
      bump(this.listed, folderId, 1);
      if (previousFolderId !== folderId) bump(this.moved, folderId, 1);
    }
    for (const folderId of removedIn) if (previousFolderId === folderId) bump(this.moved, folderId, -1);
  }

  expected(folderId: string, fullRound: boolean, previousCount: number): number {
    return fullRound ? (this.listed.get(folderId) ?? 0) : previousCount + (this.moved.get(folderId) ?? 0);
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  counts.set(key, (counts.get(key) ?? 0) + by);
}

export interface CoverageInput {
  mailboxId: string;
  /** Each folder's totalItemCount, as the folder tree's listing before the rounds read it. */
  counts: Map<string, number>;
  /** The folders whose round was read, and whether it listed the folder in full. */
  rounds: Map<string, { full: boolean }>;
  /** What the snapshot will hold per folder (ExpectedCounts with the last snapshot's count). */
  expected: (folderId: string, fullRound: boolean) => number;
  /** The rounds' records and the last snapshot's items, each in id order, read again for the folders listed. */
  roundsById: () => AsyncIterable<RoundRecord>;
  previousById: () => AsyncIterable<PreviousItem>;
  planStartedAt: Date;
  sort: Omit<SortOptions, 'prefix'> & { prefix: string };
}

/** A change-list note of the proof of coverage, or an item delta missed (planned like any other). */
export type CoverageRecord = { note: ChangeRecord } | { item: ResolvedItem };

/**
 * The proof of coverage, per folder: what the snapshot will hold is compared with the folder's totalItemCount as
 * the tree's listing read it. Where the snapshot would hold fewer, the folder is listed (its count read again,
 * so items deleted since do not count) and every item no round reported is accounted for: changed since planning
 * started (it arrived during the run, and is in the next snapshot), or missed by delta, which is backed up now,
 * from the listing, and named in the report. Yields one `folderCount` note per folder compared. The listings are
 * sorted by id through the vault and merged with the rounds and the last snapshot, so memory stays the sort's.
 * A listing that fails ends the check after the folders listed before it; the error is thrown last.
 */
export async function* coverageRecords(client: MailboxClient, input: CoverageInput): AsyncGenerator<CoverageRecord> {
  const shortfalls: string[] = [];
  for (const [folderId, round] of input.rounds) {
    const exchangeCount = input.counts.get(folderId);
    const expected = input.expected(folderId, round.full);
    if (exchangeCount === undefined) {
      // Said, not skipped: a folder the tree's listing did not count (the root, or one Graph moved elsewhere).
      if (expected > 0) yield { note: { kind: 'folderNotCompared', folderId, reason: NOT_COUNTED } };
    } else if (exchangeCount - expected <= 0)
      yield { note: { kind: 'folderCount', folderId, exchangeCount, missedByDelta: 0, arrivedDuringRun: 0 } };
    else shortfalls.push(folderId);
  }
  if (shortfalls.length === 0) return;
  const listing = new ExternalSorter<ListedEntry>(input.sort, (entry) => entry.item.id);
  try {
    const { listedCounts, failure } = await listFolders(client, input.mailboxId, shortfalls, listing);
    const tallies = new Map([...listedCounts.keys()].map((id) => [id, { missedByDelta: 0, arrivedDuringRun: 0 }]));
    yield* accountForListings(input, (await listing.seal()).read(), tallies);
    for (const [folderId, tally] of tallies)
      yield { note: { kind: 'folderCount', folderId, exchangeCount: listedCounts.get(folderId)!, ...tally } };
    if (failure) throw failure.error;
  } finally {
    await listing.discard();
  }
}

const NOT_COUNTED = "the folder tree's listing gave no item count for it, so its items could not be compared";

/** An item of a folder's listing, and when it last changed. */
interface ListedEntry {
  item: ItemMeta;
  changedAt: number;
}

/** Lists the folders into the sorter, one after another, stopping at the first that fails. */
async function listFolders(
  client: MailboxClient,
  mailboxId: string,
  folderIds: string[],
  sorter: ExternalSorter<ListedEntry>,
): Promise<{ listedCounts: Map<string, number>; failure?: { error: unknown } }> {
  const listedCounts = new Map<string, number>();
  for (const folderId of folderIds) {
    let count = 0;
    try {
      for await (const listed of client.listItems(mailboxId, folderId, { extendedProperties: ITEM_META_PROPERTIES })) {
        count++;
        const changedAt = Date.parse(listed.lastModifiedDateTime ?? listed.createdDateTime ?? '');
        await sorter.add({ item: itemMetaOf(listed, folderId), changedAt: Number.isNaN(changedAt) ? 0 : changedAt });
      }
    } catch (error) {
      // The folder's partial listing stays in the sorter: its items are skipped below (not in listedCounts).
      return { listedCounts, failure: { error } };
    }
    listedCounts.set(folderId, count);
  }
  return { listedCounts };
}

/** Accounts for each listed item its folder's round did not report, merged by id with the rounds and the last snapshot. */
async function* accountForListings(
  input: CoverageInput,
  listing: AsyncIterable<ListedEntry>,
  tallies: Map<string, { missedByDelta: number; arrivedDuringRun: number }>,
): AsyncGenerator<CoverageRecord> {
  const arrivalsFrom = input.planStartedAt.getTime() - ARRIVAL_MARGIN_IN_MS;
  type Side = { listed: ListedEntry } | { round: RoundRecord } | { previous: PreviousItem };
  const keyOfSide = (side: Side) =>
    'listed' in side ? side.listed.item.id : 'round' in side ? roundRecordKey(side.round) : previousKey(side.previous);
  const merged = mergeSorted<Side>(
    [
      tagged(listing, (listed) => ({ listed })),
      tagged(input.roundsById(), (round) => ({ round })),
      tagged(input.previousById(), (previous) => ({ previous })),
    ],
    keyOfSide,
  );
  for await (const { records } of groupByKey(merged, keyOfSide)) {
    const listed = records.flatMap((side) => ('listed' in side ? [side.listed] : []));
    if (listed.length === 0) continue;
    const rounds = records.flatMap((side) => ('round' in side ? [side.round] : []));
    const stored = records.find((side) => 'previous' in side)?.previous;
    // A new version the rounds already plan (listed in another folder): exported once, from there.
    const plannedByRound = rounds.some((r) => r.kind === 'upsert' && !knownVersion(stored, r.item).known);
    for (const { item, changedAt } of listed) {
      const tally = tallies.get(item.folderId);
      if (!tally) continue; // a folder whose listing failed part-way
      const removed = rounds.some((r) => r.kind === 'remove' && r.folderId === item.folderId);
      const reported = rounds.some((r) => r.kind === 'upsert' && r.item.folderId === item.folderId);
      if (reported && !removed) continue;
      const fullRound = input.rounds.get(item.folderId)?.full ?? true;
      if (!fullRound && stored?.folderId === item.folderId && !removed) continue;
      if (changedAt >= arrivalsFrom) {
        tally.arrivedDuringRun++;
        continue;
      }
      tally.missedByDelta++;
      const record = knownVersion(stored, item);
      const planned = !record.known && !plannedByRound;
      yield { item: planned ? { record, planned: true } : { record } };
    }
  }
}
