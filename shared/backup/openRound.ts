import { errorReason } from '../errors.js';
import {
  DeltaLinkRejectedError,
  DeltaQuotaExceededError,
  MailboxAccessDeniedError,
  type DeltaPage,
  type MailboxClient,
} from '../graph/index.js';
import { ITEM_META_PROPERTIES, itemMetaOf, type ItemMeta } from '../mailbox/index.js';
import { ExternalSorter, mergeRunsDownUnder, readSortedRuns, type SortOptions } from '../vault/externalSort.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { Attempt, PreparedFolder } from './folderRounds.js';
import { completeFromListing, filterRefused, listingFor, type RoundToComplete } from './itemMetadata.js';
import { pageRecords, roundRecordKey, type ListedItem, type RoundRecord } from './planMerge.js';

/**
 * A large folder's round while it is read over several slices of planning, as a checkpoint names it: a folder of
 * 4,000 delta pages at 0.5 s a page would keep one activity busy for half an hour. Its pages are read first (the
 * delta round, or the plain listing where Graph refuses delta), then the listing that completes their items'
 * properties; each phase stops after a page once the slice's budget is spent, and the next slice goes on from the
 * page's link. What was read so far is in the vault, sorted by id.
 */
export interface OpenRound {
  folderId: string;
  attempt: Attempt;
  /** `pages`: the round's own pages; `listing`: the listing that completes their properties. */
  phase: 'pages' | 'listing';
  /** The phase's next page; absent, its first. */
  next?: string;
  /** The delta link the round's last page gave. */
  link?: string;
  /** Upsert records that came without a search key. */
  withoutSearchKey: number;
  /** The round's records so far, sorted runs by id (a tie keeps the order the pages gave). */
  roundRuns: string[];
  /** Times the round started over because its link expired half-way (see MAX_RESTARTS). */
  restarts?: number;
  /** The listing's items so far, sorted runs by id. */
  listedRuns: string[];
}

export interface OpenRoundContext {
  client: MailboxClient;
  vault: VaultStore;
  mailboxId: string;
  folderId: string;
  /** The folder's delta link from the last committed snapshot, if any. */
  storedLink: string | undefined;
  /** When the last snapshot's run started (a night's listing asks only for what changed since). */
  changedSince?: Date;
  /** Sorted runs of this slice (a retried slice writes the same names again). */
  sortIn: (part: string) => SortOptions;
  /** Records this slice may still read; each page read takes its share. */
  budget: { left: number };
}

/**
 * A round whose state keeps expiring between slices (Exchange keeps few sync states per folder, UNCONFIRMED how
 * long) is given up after this many starts over: the folder is reported failed and keeps its stored link.
 */
const MAX_RESTARTS = 3;

/** The round is open still (checkpoint it), or read to the end and ready to hand over. */
export type OpenRoundStep = { open: OpenRound } | { ready: PreparedFolder };

const fresh = (folderId: string, attempt: Attempt): OpenRound => ({
  folderId,
  attempt,
  phase: 'pages',
  withoutSearchKey: 0,
  roundRuns: [],
  listedRuns: [],
});

/**
 * Reads on in a large folder's round from where `open` left it (from its start without one) until the budget is
 * spent or the round is complete. As for a folder read in one go (folderRounds.ts): a rejected stored link means
 * a full round, a delta refused for quota the plain listing; a link rejected in the middle of a round (its state
 * expired between two slices) starts the round over, up to MAX_RESTARTS times; the runs given up stay until the
 * plan ends.
 */
export async function readOpenRound(context: OpenRoundContext, open: OpenRound | undefined): Promise<OpenRoundStep> {
  let round: ListedRound = open ?? fresh(context.folderId, 'first');
  for (;;) {
    try {
      if (round.phase === 'pages') {
        const read = await readRoundPages(context, round);
        if (read.phase === 'pages') return { open: read };
        round = read;
      }
      if (round.withoutSearchKey > 0) {
        const listed = await readListingPages(context, round);
        if (listed.next !== undefined) return { open: listed };
        round = listed;
      }
      return { ready: await completed(context, round) };
    } catch (error) {
      const next = nextAttempt(error, round, context.storedLink);
      if (!next) return { ready: failed(error) };
      const restarts = (round.restarts ?? 0) + (round.next !== undefined ? 1 : 0);
      round = { ...fresh(context.folderId, next), ...(restarts > 0 ? { restarts } : {}) };
    }
  }
}

/** What to try after a failure of the round's pages, if anything. */
function nextAttempt(error: unknown, round: OpenRound, storedLink: string | undefined): Attempt | undefined {
  if (round.phase !== 'pages' || round.attempt === 'listing') return undefined;
  if (error instanceof DeltaQuotaExceededError) return 'listing';
  if (!(error instanceof DeltaLinkRejectedError)) return undefined;
  // Rejected in the middle of this call's pages, a fresh round's link is no stored state: a real failure.
  if (round.next !== undefined) return (round.restarts ?? 0) < MAX_RESTARTS ? 'full' : undefined;
  return round.attempt === 'first' && storedLink !== undefined ? 'full' : undefined;
}

function failed(error: unknown): PreparedFolder {
  return error instanceof MailboxAccessDeniedError ? { error, refused: true } : { error };
}

/** The round's pages from `round.next` on, spilled by id, until the last page or the budget's end. */
async function readRoundPages(context: OpenRoundContext, round: OpenRound): Promise<OpenRound> {
  const { client, mailboxId, folderId } = context;
  const spill = new ExternalSorter<RoundRecord>(context.sortIn(`${round.attempt}/round`), roundRecordKey);
  const pages: AsyncIterable<DeltaPage<ListedItem>> =
    round.attempt === 'listing'
      ? listingAsPages(
          client.listItemPages(mailboxId, folderId, {
            extendedProperties: ITEM_META_PROPERTIES,
            ...listingFrom(round),
          }),
        )
      : client.listItemChanges(mailboxId, folderId, {
          extendedProperties: ITEM_META_PROPERTIES,
          ...deltaFrom(round, round.attempt === 'first' ? context.storedLink : undefined),
        });
  let { withoutSearchKey, link, next } = round;
  try {
    for await (const page of pages) {
      for (const record of pageRecords(page, folderId)) {
        if (record.kind === 'upsert' && record.item.searchKey === undefined) withoutSearchKey++;
        await spill.add(record);
      }
      context.budget.left -= page.changed.length + page.removed.length;
      link = page.deltaLink ?? link;
      next = page.nextLink;
      if (next !== undefined && context.budget.left <= 0) break;
    }
    const roundRuns = await mergeRunsDownUnder(
      context.vault,
      [...round.roundRuns, ...(await spill.sealInVault())],
      roundRecordKey,
      context.sortIn('merged-round').prefix,
    );
    const read = withoutNext({ ...round, withoutSearchKey, roundRuns, ...(link ? { link } : {}) });
    return next !== undefined ? { ...read, next } : { ...read, phase: 'listing' };
  } catch (error) {
    await spill.discard().catch(() => undefined);
    throw error;
  }
}

/**
 * The listing that completes the round's properties (the whole folder after a full round, what changed since the
 * last snapshot on a night), from `round.next` on, until its last page or the budget's end. A filter Graph refuses
 * leaves the GETs to read every item; a listing that fails otherwise leaves the items without their properties.
 */
async function readListingPages(context: OpenRoundContext, round: OpenRound): Promise<ListedRound> {
  const listing = listingFor(toComplete(context, round));
  if (!listing) return withoutNext({ ...round, listedRuns: [] });
  const spill = new ExternalSorter<ItemMeta>(context.sortIn(`${round.attempt}/listed`), (meta) => meta.id);
  let next = round.next;
  try {
    for await (const page of context.client.listItemPages(context.mailboxId, context.folderId, {
      ...listing,
      ...listingFrom(round),
    })) {
      for (const item of page.items) await spill.add(itemMetaOf(item, context.folderId));
      context.budget.left -= page.items.length;
      next = page.nextLink;
      if (next !== undefined && context.budget.left <= 0) break;
    }
  } catch (error) {
    await spill.discard().catch(() => undefined);
    if (error instanceof MailboxAccessDeniedError) throw error;
    if (filterRefused(error, listing)) return withoutNext({ ...round, listedRuns: [] });
    // The round goes on without the listing, its items' missing properties said in the report.
    return {
      ...withoutNext(round),
      listedRuns: [],
      failure: `their search keys could not be read: ${errorReason(error)}`,
    };
  }
  const listedRuns = await mergeRunsDownUnder(
    context.vault,
    [...round.listedRuns, ...(await spill.sealInVault())],
    (meta: ItemMeta) => meta.id,
    context.sortIn('merged-listed').prefix,
  );
  const read = withoutNext({ ...round, listedRuns });
  return next !== undefined ? { ...read, next } : read;
}

/** A round whose listing is read, or given up (`failure`, said in the report). */
type ListedRound = OpenRound & { failure?: string };

function withoutNext(round: OpenRound): OpenRound {
  const { next: _next, ...rest } = round;
  return rest;
}

/** The round's records completed from its listing (the GETs read what the listing did not give). */
async function completed(context: OpenRoundContext, round: ListedRound): Promise<PreparedFolder> {
  const full = round.attempt !== 'first' || context.storedLink === undefined;
  const records = runsAsRound(context.vault, round.roundRuns);
  const outcome = { withoutSearchKey: round.withoutSearchKey, link: round.link, full, attempt: round.attempt };
  const handOver = { ...outcome, enumerated: round.attempt === 'listing' };
  if (round.withoutSearchKey === 0 || round.failure)
    return {
      outcome: { ...handOver, records },
      metadata: {
        missing: round.failure ? await countWithoutSearchKey(records) : 0,
        asked: 0,
        reason: round.failure ?? 'Graph gave no search key for them',
      },
    };
  try {
    const listed = readSortedRuns<ItemMeta>(context.vault, round.listedRuns, (meta) => meta.id);
    const done = await completeFromListing(
      context.client,
      toComplete(context, round),
      listed,
      context.sortIn(`${round.attempt}/completed`),
    );
    return {
      outcome: { ...handOver, records: done.records },
      metadata: { missing: done.withoutSearchKey, asked: done.asked, reason: 'Graph gave no search key for them' },
    };
  } catch (error) {
    if (error instanceof MailboxAccessDeniedError) throw error;
    const reason = `their search keys could not be read: ${errorReason(error)}`;
    return {
      outcome: { ...handOver, records },
      metadata: { missing: await countWithoutSearchKey(records), asked: 0, reason },
    };
  }
}

function toComplete(context: OpenRoundContext, round: OpenRound): RoundToComplete {
  return {
    mailboxId: context.mailboxId,
    folderId: context.folderId,
    records: runsAsRound(context.vault, round.roundRuns),
    withoutSearchKey: round.withoutSearchKey,
    fullRound: round.attempt !== 'first' || context.storedLink === undefined,
    ...(context.changedSince ? { changedSince: context.changedSince } : {}),
  };
}

/** Runs a checkpoint names: never deleted here (a retried slice reads them again); the plan's end deletes them. */
function runsAsRound(vault: VaultStore, runs: string[]) {
  return { read: () => readSortedRuns<RoundRecord>(vault, runs, roundRecordKey), discard: async () => undefined };
}

async function countWithoutSearchKey(records: { read(): AsyncIterable<RoundRecord> }): Promise<number> {
  let missing = 0;
  for await (const record of records.read())
    if (record.kind === 'upsert' && record.item.searchKey === undefined) missing++;
  return missing;
}

/** Where a round's delta pages start: the page after the last one read, or its first (the stored link, if any). */
function deltaFrom(round: OpenRound, storedLink: string | undefined): { deltaLink?: string } {
  const link = round.next ?? storedLink;
  return link === undefined ? {} : { deltaLink: link };
}

/** Where a listing starts: the page after the last one read, or its first. */
function listingFrom(round: OpenRound): { from?: string } {
  return round.next === undefined ? {} : { from: round.next };
}

/** A plain listing's pages as pages of a round without a delta link. */
async function* listingAsPages<T>(
  pages: AsyncIterable<{ items: T[]; nextLink?: string }>,
): AsyncGenerator<DeltaPage<T>> {
  for await (const page of pages)
    yield page.nextLink
      ? { changed: page.items, removed: [], nextLink: page.nextLink }
      : { changed: page.items, removed: [] };
}
