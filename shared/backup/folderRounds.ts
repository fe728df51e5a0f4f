import { errorReason } from '../errors.js';
import {
  DeltaLinkRejectedError,
  DeltaQuotaExceededError,
  MailboxAccessDeniedError,
  type DeltaPage,
  type MailboxClient,
} from '../graph/index.js';
import { ITEM_META_PROPERTIES } from '../mailbox/index.js';
import { ExternalSorter, type SortOptions } from '../vault/externalSort.js';
import type { Baseline } from './baseline.js';
import { completeItemMetadata, spilledRound, type SpilledRound } from './itemMetadata.js';
import { readOpenRound, type OpenRound } from './openRound.js';
import { pageRecords, roundRecordKey, type ListedItem, type RoundRecord } from './planMerge.js';
import type { ChangeRecord } from './types.js';

/**
 * Folders read at once, ahead of the folder being handed over. The mailbox limiter keeps Graph's 4 requests in
 * flight either way.
 */
const FOLDER_ROUNDS_AT_ONCE = 4;

/**
 * Records each sorter of a folder's round holds in memory (its round, its listing, its completed records). A
 * folder holds at most three such budgets and a join group (JOIN_GROUP, 1,000) at once, so the folders read at once
 * hold at most 4 × (3 × 5,000 + 1,000) = 64,000 records, whatever the folders' sizes; the rest is in the vault.
 */
export const ROUND_RECORDS_IN_MEMORY = 5_000;

/** Items of a folder's plain listing handed over as one page of its round. */
const LISTING_PAGE = 1_000;

/**
 * The counts planning reports, and the per-folder notes of the change list: a few per folder, whatever the
 * mailbox's size, checkpointed with each slice.
 */
export interface PlanTally {
  nextLinks: Record<string, string>;
  failedFolders: number;
  /** Folders listed through their plain item listing because Graph refused their delta (quota). */
  enumeratedFolders: string[];
  anyFull: boolean;
  itemsWithoutSearchKey: number;
  /** Items whose properties delta did not give, read by a listing or item GETs instead. */
  propertiesReadSeparately: number;
  /** The folders whose round was read, and whether it listed the folder in full (for the coverage check). */
  rounds: Array<[string, boolean]>;
  /** The change list's per-folder records (resync, failures, notes), in folder order. */
  notes: ChangeRecord[];
}

export function emptyTally(fullEnumeration: boolean): PlanTally {
  return {
    nextLinks: {},
    failedFolders: 0,
    enumeratedFolders: [],
    anyFull: fullEnumeration,
    itemsWithoutSearchKey: 0,
    propertiesReadSeparately: 0,
    rounds: [],
    notes: [],
  };
}

/** How much one slice of planning reads before it checkpoints (see planMailboxSlice). */
export interface SliceBudget {
  /** Item records of folder rounds. */
  items: number;
  /** Folders. */
  folders: number;
}

/** Where a slice's reading of rounds stopped: the next folder to read, and that folder's round if it is half read. */
export interface RoundsRead {
  next: number;
  open?: OpenRound;
}

/**
 * Reads folders' rounds from `from` on into the sorter (item records by id) and the tally (per-folder notes and
 * links), in folder order, until the budget is spent; returns the next folder to read. A large folder (more items
 * than a slice's budget by `countOf`, the folder tree's count) is read alone and may stop half-way, its round
 * `open` for the next slice (openRound.ts); `open` is where the slice before left one. The next folders are read
 * while one is handed over, each to the end of its round with its items' properties completed: a round is
 * sequential, page after page, and so are the reads that complete it, so one folder at a time would make planning
 * a mailbox of many folders a long row of round trips. No folder is read ahead that the slice will not hand over,
 * as far as the counts tell (a folder without a stored link is read in full; one with a link, by its changes,
 * taken as few). Memory: up to FOLDER_ROUNDS_AT_ONCE whole folder rounds, each spilled beyond the sorters' budgets.
 */
export async function readRounds(
  client: MailboxClient,
  mailboxId: string,
  baseline: Baseline,
  folderIds: string[],
  {
    from,
    budget,
    open,
    countOf,
  }: { from: number; budget: SliceBudget; open?: OpenRound; countOf: (folderId: string) => number },
  tally: PlanTally,
  rounds: ExternalSorter<RoundRecord>,
  scratch: (part: string) => SortOptions,
): Promise<RoundsRead> {
  const storedLinkOf = (folderId: string) =>
    baseline.folders.has(folderId) ? baseline.state?.itemDeltaLinks[folderId] : undefined;
  const round = (folderId: string, deltaLink: string | undefined) =>
    client.listItemChanges(mailboxId, folderId, { deltaLink, extendedProperties: ITEM_META_PROPERTIES });
  const sortIn = (index: number, attempt: string) => (part: string) => {
    const options = scratch(`${index}/${attempt}/${part}`);
    return { ...options, recordsInMemory: options.recordsInMemory ?? ROUND_RECORDS_IN_MEMORY };
  };
  const waysOf = (folderId: string, index: number): FolderRounds => ({
    first: round(folderId, storedLinkOf(folderId)),
    full: () => round(folderId, undefined),
    listing: () => listingPages(client, mailboxId, folderId),
    spill: (attempt) => new ExternalSorter<RoundRecord>(sortIn(index, attempt)('round'), roundRecordKey),
    completeMetadata: (read) =>
      completeItemMetadata(
        client,
        {
          mailboxId,
          folderId,
          records: read.records,
          withoutSearchKey: read.withoutSearchKey,
          fullRound: read.full,
          ...(baseline.takenAt ? { changedSince: baseline.takenAt } : {}),
        },
        sortIn(index, read.attempt),
      ),
  });
  const slicesVault = scratch('').vault;
  // Never read ahead past the slice's last folder: the next slice reads it again.
  const end = Math.min(folderIds.length, from + budget.folders);
  const prepared = new Map<string, Promise<PreparedFolder>>();
  const isLarge = (folderId: string) => countOf(folderId) > budget.items;
  const startFolders = (index: number) => {
    let handedOverBefore = items;
    for (let next = index; next < Math.min(end, index + FOLDER_ROUNDS_AT_ONCE); next++) {
      const folderId = folderIds[next]!;
      if (isLarge(folderId)) break; // read alone, when its turn comes
      // The slice ends after the folder that spends its budget: the folders after it are the next slice's.
      if (next > index && handedOverBefore >= budget.items) break;
      handedOverBefore += storedLinkOf(folderId) === undefined ? countOf(folderId) : 0;
      if (!prepared.has(folderId))
        prepared.set(folderId, prepareFolder(folderId, storedLinkOf(folderId), waysOf(folderId, next)));
    }
  };
  let items = 0;
  let index = from;
  try {
    for (; index < end && items < budget.items; index++) {
      const folderId = folderIds[index]!;
      let ready: PreparedFolder;
      if (isLarge(folderId)) {
        const step = await readOpenRound(
          {
            client,
            vault: slicesVault,
            mailboxId,
            folderId,
            storedLink: storedLinkOf(folderId),
            ...(baseline.takenAt ? { changedSince: baseline.takenAt } : {}),
            sortIn: sortIn(index, 'open'),
            budget: { left: budget.items - items },
          },
          open?.folderId === folderId ? open : undefined,
        );
        if ('open' in step) return { next: index, open: step.open };
        ready = step.ready;
      } else {
        startFolders(index);
        ready = await prepared.get(folderId)!;
        prepared.delete(folderId);
      }
      try {
        for await (const record of folderChanges(folderId, storedLinkOf(folderId), ready, tally)) {
          items++;
          await rounds.add(record);
        }
      } catch (error) {
        await discardQuietly(ready);
        throw error;
      }
      if ('outcome' in ready) await ready.outcome.records.discard();
    }
    return { next: index };
  } finally {
    // Planning stopped early (a failed write, the budget spent): the folders being read are let finish, not left
    // running unheard, and their scratch deleted (the next slice reads them again).
    for (const ready of await Promise.all(prepared.values())) await discardQuietly(ready);
  }
}

/** A folder read to the end of its round, its items' properties completed; or why it could not be read. */
export type PreparedFolder =
  | { outcome: FolderRound; metadata: { missing: number; asked: number; reason: string } }
  | { error: unknown; refused?: true };

/**
 * Reads a folder's round and completes its items' properties (see completeItemMetadata). Never rejects: a round
 * that cannot be read is handed over as its error, so that a folder read ahead cannot fail the plan unheard.
 */
async function prepareFolder(
  folderId: string,
  storedLink: string | undefined,
  rounds: FolderRounds,
): Promise<PreparedFolder> {
  let outcome: FolderRound;
  try {
    outcome = await readFolderRound(folderId, storedLink, rounds);
  } catch (error) {
    return { error };
  }
  try {
    const prepared = await withMetadata(outcome, rounds);
    if ('error' in prepared) await discardQuietly({ outcome });
    return prepared;
  } catch (error) {
    // The vault failed the round's scratch: the folder is not handed over, as if its round had failed.
    await discardQuietly({ outcome });
    return { error };
  }
}

/**
 * Deletes a folder's spill where planning already has a failure to report, or stops early: a spill the vault will
 * not delete either is left in the run's folder (the last slice of a plan in several deletes its sorted runs; run
 * artifacts expire).
 */
async function discardQuietly(folder: { outcome: FolderRound } | { error: unknown }): Promise<void> {
  if ('outcome' in folder) await folder.outcome.records.discard().catch(() => undefined);
}

/** The round with its items' properties completed; or as it was, its items without keys noted. */
async function withMetadata(outcome: FolderRound, rounds: FolderRounds): Promise<PreparedFolder> {
  try {
    const completed = await rounds.completeMetadata(outcome);
    const reason = 'Graph gave no search key for them';
    return {
      outcome: { ...outcome, records: completed.records },
      metadata: { missing: completed.withoutSearchKey, asked: completed.asked, reason },
    };
  } catch (error) {
    // Refused the mailbox: the whole plan ends (planMailbox says why); anything else leaves items without keys.
    if (error instanceof MailboxAccessDeniedError) return { error, refused: true };
    const missing = await withoutSearchKey(outcome.records);
    const reason = `their search keys could not be read: ${errorReason(error)}`;
    return { outcome, metadata: { missing, asked: 0, reason } };
  }
}

/** Upsert records still without a search key (some may have been completed before a failure). */
async function withoutSearchKey(records: SpilledRound): Promise<number> {
  let missing = 0;
  for await (const record of records.read())
    if (record.kind === 'upsert' && record.item.searchKey === undefined) missing++;
  return missing;
}

export const TREE_LISTED_REASON =
  "Graph refused the folder hierarchy's delta (ErrorQuotaExceeded); the folder tree was listed instead";

/** Why a folder was listed instead of read by delta, as the run report says it. */
export const ENUMERATED_REASON =
  'Graph refused its item delta (ErrorQuotaExceeded); it was listed in full instead, and will be until the quota allows delta again';

/**
 * One folder's item records, its notes and link counted into the tally; a folder that cannot be read carries its
 * previous items over (the commit keeps what it does not change).
 */
async function* folderChanges(
  folderId: string,
  storedLink: string | undefined,
  ready: PreparedFolder,
  tally: PlanTally,
): AsyncGenerator<RoundRecord> {
  if ('error' in ready) {
    if (ready.refused) throw ready.error;
    // One folder that cannot be read does not sink the mailbox.
    tally.failedFolders++;
    if (storedLink) tally.nextLinks[folderId] = storedLink;
    tally.notes.push({ kind: 'folderFailed', folderId, reason: errorReason(ready.error) });
    return;
  }
  const { outcome, metadata } = ready;
  tally.rounds.push([folderId, outcome.full]);
  tally.propertiesReadSeparately += metadata.asked;
  if (metadata.missing > 0) {
    // Said in the report: restores cannot match these items against what a target already holds.
    tally.itemsWithoutSearchKey += metadata.missing;
    tally.notes.push({ kind: 'metadataGap', folderId, items: metadata.missing, reason: metadata.reason });
  }
  if (outcome.enumerated) {
    tally.enumeratedFolders.push(folderId);
    tally.notes.push({ kind: 'folderEnumerated', folderId, reason: ENUMERATED_REASON });
  }
  if (outcome.full) {
    tally.anyFull = true;
    tally.notes.push({ kind: 'resync', folderId });
  }
  yield* outcome.records.read();
  if (outcome.link) tally.nextLinks[folderId] = outcome.link;
}

/** A folder's ways to be read: the round already started, a full delta round, the plain item listing. */
interface FolderRounds {
  first: AsyncIterable<DeltaPage<ListedItem>>;
  full: () => AsyncIterable<DeltaPage<ListedItem>>;
  listing: () => AsyncIterable<DeltaPage<ListedItem>>;
  /** Where an attempt at the round spills its records, sorted by id. */
  spill: (attempt: Attempt) => ExternalSorter<RoundRecord>;
  /** Fills in the properties delta gave no value for: the round's records, completed. */
  completeMetadata: (round: FolderRound) => ReturnType<typeof completeItemMetadata>;
}

/** The round from the stored link (or from scratch where there is none), a full round, the plain listing. */
export type Attempt = 'first' | 'full' | 'listing';

export interface FolderRound {
  /** In id order; a record's order among those of its item is the round's. */
  records: SpilledRound;
  /** Its upsert records that came without a search key. */
  withoutSearchKey: number;
  link: string | undefined;
  full: boolean;
  /** Read through the plain listing: complete, but with no delta link for the next run. */
  enumerated: boolean;
  attempt: Attempt;
}

/**
 * A folder's whole round, spilled by id as its pages come (memory: the spill's budget) and kept until it is
 * complete: a round that fails or must start over leaves nothing behind, its spill deleted. A rejected stored
 * link means a full round; a delta refused for quota means the plain listing, which needs no sync state (the
 * folder's next run then starts a fresh delta round).
 */
async function readFolderRound(
  folderId: string,
  storedLink: string | undefined,
  rounds: FolderRounds,
): Promise<FolderRound> {
  const collect = async (pages: AsyncIterable<DeltaPage<ListedItem>>, attempt: Attempt): Promise<FolderRound> => {
    const spill = rounds.spill(attempt);
    try {
      let link: string | undefined;
      let withoutSearchKey = 0;
      for await (const page of pages) {
        for (const record of pageRecords(page, folderId)) {
          if (record.kind === 'upsert' && record.item.searchKey === undefined) withoutSearchKey++;
          await spill.add(record);
        }
        link = page.deltaLink ?? link;
      }
      const full = attempt !== 'first' || storedLink === undefined;
      const records = await spilledRound(spill);
      return { records, withoutSearchKey, link, full, enumerated: attempt === 'listing', attempt };
    } catch (error) {
      // Why the round failed decides what comes next (a full round, the listing): a failed delete does not hide it.
      await spill.discard().catch(() => undefined);
      throw error;
    }
  };
  const listInstead = (error: unknown): Promise<FolderRound> => {
    if (!(error instanceof DeltaQuotaExceededError)) throw error;
    return collect(rounds.listing(), 'listing');
  };
  try {
    return await collect(rounds.first, 'first');
  } catch (error) {
    if (!(error instanceof DeltaLinkRejectedError) || storedLink === undefined) return listInstead(error);
    return collect(rounds.full(), 'full').catch(listInstead);
  }
}

/** A folder's items through the plain listing, as pages of changes without a delta link. */
async function* listingPages(
  client: MailboxClient,
  mailboxId: string,
  folderId: string,
): AsyncGenerator<DeltaPage<ListedItem>> {
  let changed: ListedItem[] = [];
  for await (const item of client.listItems(mailboxId, folderId, { extendedProperties: ITEM_META_PROPERTIES })) {
    changed.push(item);
    if (changed.length < LISTING_PAGE) continue;
    yield { changed, removed: [] };
    changed = [];
  }
  yield { changed, removed: [] };
}
