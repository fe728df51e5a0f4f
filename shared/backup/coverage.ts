import type { MailboxClient } from '../graph/index.js';
import { ITEM_META_PROPERTIES, itemMetaOf } from '../mailbox/index.js';
import type { ChangeRecord, StoredRef } from './types.js';

/**
 * Items changed this long before planning started still count as arriving during the run: Exchange's clock and
 * ours differ a little, and an item may take a moment to be listed after it is stamped.
 */
const ARRIVAL_MARGIN_IN_MS = 2 * 60_000;

/** What a folder's round said: the items it listed and removed, and whether it listed the folder in full. */
export interface FolderRoundIds {
  full: boolean;
  upserts: Set<string>;
  removed: Set<string>;
}

/** The last snapshot's items, as planning holds them. */
export interface CoverageBaseline {
  /** Items of the last snapshot per folder. */
  countIn(folderId: string): number;
  /** The folder and stored version of an item of the last snapshot. */
  itemOf(id: string): (StoredRef & { changeKey: string; folderId: string }) | undefined;
}

export interface CoverageInput {
  mailboxId: string;
  /** Each folder's totalItemCount, as the folder tree's listing before the rounds read it. */
  counts: Map<string, number>;
  rounds: Map<string, FolderRoundIds>;
  baseline: CoverageBaseline;
  planStartedAt: Date;
}

/**
 * The proof of coverage, per folder: what the snapshot will hold is compared with the folder's totalItemCount as
 * the tree's listing read it. Where the snapshot would hold fewer, the folder is listed (its count read again,
 * so items deleted since do not count) and every item no round reported is accounted for: changed since planning
 * started (it arrived during the run, and is in the next snapshot), or missed by delta, which is backed up now,
 * from the listing, and named in the report. Yields one `folderCount` record per folder compared, after the
 * upserts of the items delta missed.
 */
export async function* coverageRecords(client: MailboxClient, input: CoverageInput): AsyncGenerator<ChangeRecord> {
  for (const [folderId, round] of input.rounds) {
    const exchangeCount = input.counts.get(folderId);
    const expected = expectedCount(folderId, round, input.baseline);
    if (exchangeCount === undefined) {
      // Said, not skipped: a folder the tree's listing did not count (the root, or one Graph moved elsewhere).
      if (expected > 0) yield { kind: 'folderNotCompared', folderId, reason: NOT_COUNTED };
      continue;
    }
    const shortfall = exchangeCount - expected;
    if (shortfall <= 0) {
      yield { kind: 'folderCount', folderId, exchangeCount, missedByDelta: 0, arrivedDuringRun: 0 };
      continue;
    }
    yield* accountForListing(client, input, folderId, round);
  }
}

const NOT_COUNTED = "the folder tree's listing gave no item count for it, so its items could not be compared";

/** How many items the snapshot will hold in the folder if everything planned is stored. */
function expectedCount(folderId: string, round: FolderRoundIds, baseline: CoverageBaseline): number {
  if (round.full) return [...round.upserts].filter((id) => !round.removed.has(id)).length;
  let count = baseline.countIn(folderId);
  for (const id of round.removed) if (baseline.itemOf(id)?.folderId === folderId) count--;
  for (const id of round.upserts) if (baseline.itemOf(id)?.folderId !== folderId && !round.removed.has(id)) count++;
  return count;
}

/** Lists the folder and accounts for each item its round did not report. */
async function* accountForListing(
  client: MailboxClient,
  input: CoverageInput,
  folderId: string,
  round: FolderRoundIds,
): AsyncGenerator<ChangeRecord> {
  const arrivalsFrom = input.planStartedAt.getTime() - ARRIVAL_MARGIN_IN_MS;
  let missedByDelta = 0;
  let arrivedDuringRun = 0;
  let exchangeCount = 0;
  const listing = client.listItems(input.mailboxId, folderId, { extendedProperties: ITEM_META_PROPERTIES });
  for await (const listed of listing) {
    exchangeCount++;
    if (round.upserts.has(listed.id) && !round.removed.has(listed.id)) continue;
    const stored = input.baseline.itemOf(listed.id);
    if (!round.full && stored?.folderId === folderId && !round.removed.has(listed.id)) continue;
    const changedAt = Date.parse(listed.lastModifiedDateTime ?? listed.createdDateTime ?? '');
    if (changedAt >= arrivalsFrom) {
      arrivedDuringRun++;
      continue;
    }
    missedByDelta++;
    const item = itemMetaOf(listed, folderId);
    const known = stored && stored.changeKey === item.changeKey ? stored : undefined;
    yield known
      ? { kind: 'upsert', item, known: { blob: known.blob, sha256: known.sha256, length: known.length } }
      : { kind: 'upsert', item };
  }
  yield { kind: 'folderCount', folderId, exchangeCount, missedByDelta, arrivedDuringRun };
}
