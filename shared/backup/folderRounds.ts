import { errorReason } from '../errors.js';
import {
  DeltaLinkRejectedError,
  DeltaQuotaExceededError,
  MailboxAccessDeniedError,
  type DeltaPage,
  type MailboxClient,
} from '../graph/index.js';
import { ITEM_META_PROPERTIES, itemMetaOf } from '../mailbox/index.js';
import type { ExternalSorter } from '../vault/externalSort.js';
import type { Baseline } from './baseline.js';
import { completeItemMetadata, type MetadataOutcome } from './itemMetadata.js';
import type { RoundRecord } from './planMerge.js';
import type { ChangeRecord } from './types.js';

/**
 * Folders read at once, ahead of the folder being handed over (memory: their whole rounds). The mailbox limiter
 * keeps Graph's 4 requests in flight either way.
 */
const FOLDER_ROUNDS_AT_ONCE = 4;

type ListedItem = Parameters<typeof itemMetaOf>[0];

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

/**
 * Reads folders' rounds from `from` on into the sorter (item records by id) and the tally (per-folder notes and
 * links), in folder order, until the budget is spent; returns the next folder to read. The next folders are read
 * while one is handed over, each to the end of its round with its items' properties completed: a round is
 * sequential, page after page, and so are the reads that complete it, so one folder at a time would make planning
 * a mailbox of many folders a long row of round trips. Memory: up to FOLDER_ROUNDS_AT_ONCE whole folder rounds
 * (the largest folders', not the mailbox's), and the sorter's budget.
 */
export async function readRounds(
  client: MailboxClient,
  mailboxId: string,
  baseline: Baseline,
  folderIds: string[],
  { from, budget }: { from: number; budget: SliceBudget },
  tally: PlanTally,
  rounds: ExternalSorter<RoundRecord>,
): Promise<number> {
  const storedLinkOf = (folderId: string) =>
    baseline.folders.has(folderId) ? baseline.state?.itemDeltaLinks[folderId] : undefined;
  const round = (folderId: string, deltaLink: string | undefined) =>
    client.listItemChanges(mailboxId, folderId, { deltaLink, extendedProperties: ITEM_META_PROPERTIES });
  const waysOf = (folderId: string): FolderRounds => ({
    first: round(folderId, storedLinkOf(folderId)),
    full: () => round(folderId, undefined),
    listing: () => listingPages(client, mailboxId, folderId),
    completeMetadata: (records, fullRound) =>
      completeItemMetadata(client, {
        mailboxId,
        folderId,
        records,
        fullRound,
        ...(baseline.takenAt ? { changedSince: baseline.takenAt } : {}),
      }),
  });
  // Never read ahead past the slice's last folder: the next slice reads it again.
  const end = Math.min(folderIds.length, from + budget.folders);
  const prepared = new Map<string, Promise<PreparedFolder>>();
  const startFolders = (index: number) => {
    for (const folderId of folderIds.slice(index, Math.min(end, index + FOLDER_ROUNDS_AT_ONCE)))
      if (!prepared.has(folderId))
        prepared.set(folderId, prepareFolder(folderId, storedLinkOf(folderId), waysOf(folderId)));
  };
  let items = 0;
  let index = from;
  try {
    for (; index < end && items < budget.items; index++) {
      const folderId = folderIds[index]!;
      startFolders(index);
      const ready = await prepared.get(folderId)!;
      prepared.delete(folderId);
      for (const record of folderChanges(folderId, storedLinkOf(folderId), ready, tally)) {
        items++;
        await rounds.add(record);
      }
    }
    return index;
  } finally {
    // Planning stopped early (a failed write, the budget spent): the folders being read are let finish, not left
    // running unheard.
    await Promise.allSettled(prepared.values());
  }
}

/** A folder read to the end of its round, its items' properties completed; or why it could not be read. */
type PreparedFolder =
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
    const completed = await rounds.completeMetadata(outcome.records, outcome.full);
    const reason = 'Graph gave no search key for them';
    return { outcome, metadata: { missing: completed.withoutSearchKey, asked: completed.asked, reason } };
  } catch (error) {
    // Refused the mailbox: the whole plan ends (planMailbox says why); anything else leaves items without keys.
    if (error instanceof MailboxAccessDeniedError) return { error, refused: true };
    const missing = outcome.records.filter((r) => r.kind === 'upsert' && r.item.searchKey === undefined).length;
    const reason = `their search keys could not be read: ${errorReason(error)}`;
    return { outcome, metadata: { missing, asked: 0, reason } };
  }
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
function* folderChanges(
  folderId: string,
  storedLink: string | undefined,
  ready: PreparedFolder,
  tally: PlanTally,
): Generator<RoundRecord> {
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
  yield* outcome.records;
  if (outcome.link) tally.nextLinks[folderId] = outcome.link;
}

/** A folder's ways to be read: the round already started, a full delta round, the plain item listing. */
interface FolderRounds {
  first: AsyncIterable<DeltaPage<ListedItem>>;
  full: () => AsyncIterable<DeltaPage<ListedItem>>;
  listing: () => AsyncIterable<DeltaPage<ListedItem>>;
  /** Fills in the properties delta gave no value for. */
  completeMetadata: (records: ChangeRecord[], fullRound: boolean) => Promise<MetadataOutcome>;
}

interface FolderRound {
  records: RoundRecord[];
  link: string | undefined;
  full: boolean;
  /** Read through the plain listing: complete, but with no delta link for the next run. */
  enumerated: boolean;
}

/**
 * A folder's whole round, kept until it is complete: a round that fails or must start over leaves nothing
 * behind. A rejected stored link means a full round; a delta refused for quota means the plain listing, which
 * needs no sync state (the folder's next run then starts a fresh delta round).
 */
async function readFolderRound(
  folderId: string,
  storedLink: string | undefined,
  rounds: FolderRounds,
): Promise<FolderRound> {
  const collect = async (pages: AsyncIterable<DeltaPage<ListedItem>>, full: boolean, enumerated = false) => {
    const round: FolderRound = { records: [], link: undefined, full, enumerated };
    for await (const page of pages) {
      round.records.push(...pageRecords(page, folderId));
      round.link = page.deltaLink ?? round.link;
    }
    return round;
  };
  const listInstead = (error: unknown): Promise<FolderRound> => {
    if (!(error instanceof DeltaQuotaExceededError)) throw error;
    return collect(rounds.listing(), true, true);
  };
  try {
    return await collect(rounds.first, storedLink === undefined);
  } catch (error) {
    if (!(error instanceof DeltaLinkRejectedError) || storedLink === undefined) return listInstead(error);
    return collect(rounds.full(), true).catch(listInstead);
  }
}

/** A folder's items through the plain listing, as one page of changes without a delta link. */
async function* listingPages(
  client: MailboxClient,
  mailboxId: string,
  folderId: string,
): AsyncGenerator<DeltaPage<ListedItem>> {
  const changed: ListedItem[] = [];
  for await (const item of client.listItems(mailboxId, folderId, { extendedProperties: ITEM_META_PROPERTIES }))
    changed.push(item);
  yield { changed, removed: [] };
}

/** A page's records, as the round listed them (compared with the last snapshot later, by id). */
function pageRecords(page: DeltaPage<ListedItem>, folderId: string): RoundRecord[] {
  const out: RoundRecord[] = page.changed.map((listed) => ({ kind: 'upsert', item: itemMetaOf(listed, folderId) }));
  for (const removed of page.removed) out.push({ kind: 'remove', id: removed.id, folderId });
  return out;
}
