import { randomUUID } from 'node:crypto';
import { errorReason } from '../errors.js';
import {
  DeltaLinkRejectedError,
  DeltaQuotaExceededError,
  MailboxAccessDeniedError,
  type DeltaPage,
  type MailboxClient,
  type MailboxFolder,
  readFolderTreeListing,
} from '../graph/index.js';
import { folderPaths, folderPathText, ITEM_META_PROPERTIES, itemMetaOf } from '../mailbox/index.js';
import { packBySize } from '../packing.js';
import { ExternalSorter } from '../vault/externalSort.js';
import type { IndexedNdjsonFile, IndexedNdjsonReader } from '../vault/indexedNdjson.js';
import { layout } from '../vault/layout.js';
import type { ManifestFolder } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { readBaseline, withBudget, type Baseline } from './baseline.js';
import { coverageRecords, ExpectedCounts, type CoverageRecord } from './coverage.js';
import { completeItemMetadata, type MetadataOutcome } from './itemMetadata.js';
import { itemGroups, resolveGroup, roundRecordKey, type RoundRecord } from './planMerge.js';
import { PlanOutput } from './planOutput.js';
import { holdsItems, withRecoverableItems } from './recoverableItems.js';
import type { ChangeRecord, PlanSummary, PlannedBatch, PlannedItem } from './types.js';

/**
 * Folders read at once, ahead of the folder being written (memory: their whole rounds). The mailbox limiter keeps
 * Graph's 4 requests in flight either way.
 */
const FOLDER_ROUNDS_AT_ONCE = 4;

type ListedItem = Parameters<typeof itemMetaOf>[0];
type FolderWithoutPath = Omit<ManifestFolder, 'path'>;

export interface PlanSettings {
  /** Graph's ceiling. */
  maxItemsPerBatch: number;
  /** Budget of reported size per batch; exported streams can be far larger than `size`, so keep it well below what one response should carry. */
  batchReportedBytes: number;
  /** Back up the Recoverable Items deletions folder of primary and shared mailboxes (see recoverableItems.ts). */
  recoverableItems?: boolean;
  /** Records each of planning's external sorts holds in memory (tests make it small to exercise the merge). */
  recordsInMemory?: number;
}

/** Where planning says what the run report must not hide (a folder read without delta). */
export interface PlanLogger {
  warn(message: string): void;
}

const silentPlanLogger: PlanLogger = { warn: () => {} };

export interface PlanInput {
  runId: string;
  mailboxId: string;
  upn: string;
  /** An in-place archive: the primary mailbox it belongs to. */
  archiveOf?: string;
}

/** What the next commit writes to state/delta.json if all goes well. */
export interface NextDeltaState {
  folderDeltaLink?: string;
  itemDeltaLinks: Record<string, string>;
}

/** The counts planning reports, and the per-folder notes of the change list (a few per folder). */
interface PlanTally {
  nextLinks: Record<string, string>;
  failedFolders: number;
  /** Folders listed through their plain item listing because Graph refused their delta (quota). */
  enumeratedFolders: string[];
  anyFull: boolean;
  itemsWithoutSearchKey: number;
  /** Items whose properties delta did not give, read by a listing or item GETs instead. */
  propertiesReadSeparately: number;
  /** The folders whose round was read, and whether it listed the folder in full (for the coverage check). */
  rounds: Map<string, { full: boolean }>;
  /** Items Exchange counts in a folder that no delta round reported (backed up from the folder's listing). */
  missedByDelta: number;
  /** The change list's per-folder records (resync, failures, notes), in folder order. */
  notes: ChangeRecord[];
}

/** Packs items into batches of at most N ids and a reported-size budget; an item over the budget goes alone. */
export function packBatches(items: PlannedItem[], settings: PlanSettings): PlannedItem[][] {
  return packBySize(items, settings.maxItemsPerBatch, settings.batchReportedBytes, (item) => item.size);
}

/** The plan of one mailbox in one run, as an indexed file of batches. */
export function planFile(runId: string, mailboxId: string): IndexedNdjsonFile {
  return {
    data: layout.runPlan(runId, mailboxId),
    index: layout.runPlanIndex(runId, mailboxId),
    description: `the plan of run ${runId}`,
  };
}

/**
 * Plans one mailbox's run: folder delta, then item delta per folder from the stored links (a full enumeration
 * where there is none or Graph rejects it), compared with the last snapshot so that only new or changed
 * versions are exported. Writes the change list, the batches and the next delta links to the run's folder,
 * and returns counts only.
 */
export async function planMailbox(
  client: MailboxClient,
  vault: VaultStore,
  settings: PlanSettings,
  input: PlanInput,
  logger: PlanLogger = silentPlanLogger,
): Promise<PlanSummary> {
  try {
    return await planGrantedMailbox(client, vault, settings, input, logger);
  } catch (error) {
    // Returned, not thrown: a thrown failure would have the activity retried, asking Graph again for nothing.
    if (error instanceof MailboxAccessDeniedError) return refusedPlan(error);
    throw error;
  }
}

function refusedPlan(error: MailboxAccessDeniedError): PlanSummary {
  return {
    planVersion: '',
    batchCount: 0,
    itemsToExport: 0,
    reportedBytesToExport: 0,
    changedItems: 0,
    removedItems: 0,
    folders: 0,
    failedFolders: 0,
    enumeratedFolders: 0,
    fullEnumeration: false,
    itemsWithoutSearchKey: 0,
    missedByDelta: 0,
    refused: errorReason(error),
  };
}

async function planGrantedMailbox(
  client: MailboxClient,
  vault: VaultStore,
  settings: PlanSettings,
  input: PlanInput,
  logger: PlanLogger,
): Promise<PlanSummary> {
  const { runId, mailboxId } = input;
  const planStartedAt = new Date();
  const sortIn = (part: string) => ({
    vault,
    prefix: layout.runPlanSort(runId, mailboxId, part),
    ...withBudget(settings),
  });
  const baseline = await readBaseline(vault, mailboxId, {
    vault,
    prefixOf: (part) => layout.runPlanSort(runId, mailboxId, part),
    ...withBudget(settings),
  });
  const rounds = new ExternalSorter<RoundRecord>(sortIn('rounds'), roundRecordKey);
  let output: PlanOutput | undefined;
  try {
    const tree = await readFolderTree(client, mailboxId, baseline);
    // An archive's folders are addressed by id only, so its Recoverable Items (reached by name) are not.
    withRecoverableItems(tree.folders, (settings.recoverableItems ?? false) && !input.archiveOf);
    tree.paths = folderPaths(tree.folders);
    output = new PlanOutput(vault, { runId, mailboxId, folderIds: [...tree.folders.keys()], sortIn });
    const tally: PlanTally = {
      nextLinks: {},
      failedFolders: 0,
      enumeratedFolders: [],
      anyFull: tree.fullEnumeration,
      itemsWithoutSearchKey: 0,
      propertiesReadSeparately: 0,
      rounds: new Map(),
      missedByDelta: 0,
      notes: [],
    };
    // The hierarchy's own note: folderId '' stands for the mailbox's folder tree (an empty path in the report).
    if (tree.listedInstead) tally.notes.push({ kind: 'folderEnumerated', folderId: '', reason: TREE_LISTED_REASON });
    await readRounds(client, mailboxId, baseline, tree, tally, rounds);
    const roundsById = await rounds.seal();
    const expected = new ExpectedCounts();
    for await (const group of itemGroups(baseline.itemsById.read(), roundsById.read())) {
      const { resolved, upsertedIn, removedIn } = resolveGroup(group);
      expected.add(group.previous?.folderId, upsertedIn, removedIn);
      for (const item of resolved) await output.add(item);
    }
    const coverage = coverageRecords(client, {
      mailboxId,
      counts: tree.counts,
      rounds: tally.rounds,
      expected: (folderId, full) => expected.expected(folderId, full, baseline.counts.get(folderId) ?? 0),
      roundsById: () => roundsById.read(),
      previousById: () => baseline.itemsById.read(),
      planStartedAt,
      sort: sortIn('listing'),
    });
    for await (const record of withCoverage(coverage, mailboxId, tally, logger)) {
      if ('note' in record) tally.notes.push(record.note);
      else await output.add(record.item);
    }
    const folders = [...tree.folders].map(([id, folder]) => ({
      ...folder,
      path: tree.paths.get(id) ?? [folder.displayName],
    }));
    await output.writeChangeList([...folders, ...tally.notes]);
    // A plan written again (a retried planning, a re-run of the same run id) gets a new version, so that no
    // process can read batches of one plan through the index of another.
    const planVersion = randomUUID();
    const plan = await output.writePlan(planFile(runId, mailboxId), settings, planVersion);
    const next: NextDeltaState = { folderDeltaLink: tree.folderDeltaLink, itemDeltaLinks: tally.nextLinks };
    await vault.writeJson(layout.runNextDelta(runId, mailboxId), next);
    warnOfGaps(input.upn, tree, tally, logger);
    return {
      planVersion,
      batchCount: plan.batchCount,
      itemsToExport: plan.itemsToExport,
      reportedBytesToExport: plan.reportedBytesToExport,
      changedItems: output.changedItems,
      removedItems: output.removedItems,
      folders: tree.folders.size,
      failedFolders: tally.failedFolders,
      enumeratedFolders: tally.enumeratedFolders.length,
      fullEnumeration: tally.anyFull,
      itemsWithoutSearchKey: tally.itemsWithoutSearchKey,
      missedByDelta: tally.missedByDelta,
    };
  } finally {
    await Promise.all([baseline.discard(), rounds.discard(), output?.discard()]);
  }
}

/** What the run report must not hide, said as planning found it. */
function warnOfGaps(upn: string, tree: FolderTree, tally: PlanTally, logger: PlanLogger): void {
  if (tree.listedInstead) logger.warn(`${upn}: ${TREE_LISTED_REASON}`);
  if (tally.propertiesReadSeparately > 0)
    logger.warn(
      `${upn}: delta gave no subject, sender or search key for ${tally.propertiesReadSeparately} item(s) (Graph refuses or ignores $expand there); they were read from the folder listings and item GETs instead`,
    );
  for (const folderId of tally.enumeratedFolders)
    logger.warn(`${upn}, folder '${folderPathText(tree.paths.get(folderId) ?? [folderId])}': ${ENUMERATED_REASON}`);
}

/**
 * The proof of coverage (see coverageRecords): items delta missed are planned for export like any other. A
 * coverage check that cannot be made is said in the report; it does not fail the plan.
 */
async function* withCoverage(
  coverage: AsyncIterable<CoverageRecord>,
  mailboxId: string,
  tally: PlanTally,
  logger: PlanLogger,
): AsyncGenerator<CoverageRecord> {
  try {
    for await (const record of coverage) {
      if ('note' in record && record.note.kind === 'folderCount') tally.missedByDelta += record.note.missedByDelta;
      yield record;
    }
  } catch (error) {
    if (error instanceof MailboxAccessDeniedError) throw error;
    const reason = `the folders' item counts could not be read: ${errorReason(error)}`;
    logger.warn(`${mailboxId}: coverage not checked, ${reason}`);
    yield { note: { kind: 'coverageUnchecked', reason } };
  }
}

interface FolderTree {
  folders: Map<string, FolderWithoutPath>;
  paths: Map<string, string[]>;
  folderDeltaLink: string | undefined;
  fullEnumeration: boolean;
  /** Graph refused the hierarchy's delta (sync quota): the tree was listed instead. */
  listedInstead: boolean;
  /** Each listed folder's totalItemCount, read before the item rounds (the proof of coverage compares with it). */
  counts: Map<string, number>;
}

/**
 * The folder hierarchy: the last snapshot's folders moved on by folder delta (or enumerated in full), then given
 * their shape by a listing of the tree. Delta entries may carry only an id and a name (the docs' example does),
 * so the listing supplies each folder's parent, class, well-known name and item count; a folder the listing
 * shows and delta did not is added.
 */
async function readFolderTree(client: MailboxClient, mailboxId: string, baseline: Baseline): Promise<FolderTree> {
  const delta = await readFolderDelta(client, mailboxId, baseline);
  const listing = await readFolderTreeListing(client, mailboxId);
  const folders = new Map<string, FolderWithoutPath>();
  for (const [id, folder] of delta?.folders ?? new Map<string, FolderWithoutPath>()) {
    const listed = listing.folders.get(id);
    folders.set(id, listed ? toManifestFolder(listed, folder) : folder);
  }
  for (const [id, listed] of listing.folders) if (!folders.has(id)) folders.set(id, toManifestFolder(listed));
  // The root is not listed: it is the folder every top-level folder names as its parent.
  const root = listing.rootId ? folders.get(listing.rootId) : undefined;
  if (root && !root.wellKnownName) folders.set(root.id, { ...root, wellKnownName: 'msgfolderroot' });
  const counts = new Map<string, number>();
  for (const [id, listed] of listing.folders)
    if (listed.totalItemCount !== undefined) counts.set(id, listed.totalItemCount);
  return {
    folders,
    paths: folderPaths(folders),
    folderDeltaLink: delta?.link,
    fullEnumeration: delta?.full ?? true,
    listedInstead: delta === undefined,
    counts,
  };
}

/** The folders by delta from the stored link (a full round where there is none or it is refused); undefined over the sync quota. */
async function readFolderDelta(
  client: MailboxClient,
  mailboxId: string,
  baseline: Baseline,
): Promise<{ folders: Map<string, FolderWithoutPath>; link: string | undefined; full: boolean } | undefined> {
  const folders = new Map<string, FolderWithoutPath>();
  let link: string | undefined;
  const readFolders = async (deltaLink: string | undefined) => {
    for await (const page of client.listFolderChanges(mailboxId, deltaLink ? { deltaLink } : {})) {
      for (const folder of page.changed)
        folders.set(folder.id, toManifestFolder(folder, baseline.folders.get(folder.id)));
      for (const removed of page.removed) folders.delete(removed.id);
      if (page.deltaLink) link = page.deltaLink;
    }
  };
  const storedLink = baseline.state?.folderDeltaLink;
  let full = !storedLink;
  try {
    if (storedLink) {
      for (const [id, folder] of baseline.folders) folders.set(id, folder);
      try {
        await readFolders(storedLink);
      } catch (error) {
        if (!(error instanceof DeltaLinkRejectedError)) throw error;
        folders.clear();
        full = true;
        await readFolders(undefined);
      }
    } else await readFolders(undefined);
  } catch (error) {
    if (!(error instanceof DeltaQuotaExceededError)) throw error;
    // Over the mailbox's sync quota: the listing alone gives the tree, and the next run starts a fresh folder delta.
    return undefined;
  }
  return { folders, link, full };
}

/** A folder as the manifest keeps it; what a thin delta entry lacks is kept from the folder as it was known. */
function toManifestFolder(folder: MailboxFolder, known?: FolderWithoutPath): FolderWithoutPath {
  return {
    kind: 'folder',
    id: folder.id,
    parentId: folder.parentFolderId ?? known?.parentId ?? null,
    displayName: folder.displayName ?? known?.displayName ?? '',
    type: folder.type ?? known?.type ?? 'IPF.Note',
    wellKnownName: folder.wellKnownName ?? known?.wellKnownName ?? null,
  };
}

/**
 * Reads every folder's round into the sorter (item records by id) and the tally (per-folder notes and links), in
 * folder order. The next folders are read while one is handed over, each to the end of its round with its items'
 * properties completed: a round is sequential, page after page, and so are the reads that complete it, so one
 * folder at a time would make planning a mailbox of many folders a long row of round trips. Memory: up to
 * FOLDER_ROUNDS_AT_ONCE whole folder rounds, and the sorter's budget.
 */
async function readRounds(
  client: MailboxClient,
  mailboxId: string,
  baseline: Baseline,
  tree: FolderTree,
  tally: PlanTally,
  rounds: ExternalSorter<RoundRecord>,
): Promise<void> {
  const folderIds = [...tree.folders.keys()].filter(holdsItems);
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
  const prepared = new Map<string, Promise<PreparedFolder>>();
  const startFolders = (from: number) => {
    for (const folderId of folderIds.slice(from, from + FOLDER_ROUNDS_AT_ONCE))
      if (!prepared.has(folderId))
        prepared.set(folderId, prepareFolder(folderId, storedLinkOf(folderId), waysOf(folderId)));
  };
  try {
    for (const [index, folderId] of folderIds.entries()) {
      startFolders(index);
      const ready = await prepared.get(folderId)!;
      prepared.delete(folderId);
      for (const record of folderChanges(folderId, storedLinkOf(folderId), ready, tally)) await rounds.add(record);
    }
  } finally {
    // Planning stopped early (a failed write): the folders being read are let finish, not left running unheard.
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

const TREE_LISTED_REASON =
  "Graph refused the folder hierarchy's delta (ErrorQuotaExceeded); the folder tree was listed instead";

/** Why a folder was listed instead of read by delta, as the run report says it. */
const ENUMERATED_REASON =
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
  tally.rounds.set(folderId, { full: outcome.full });
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

/** Consecutive planned batches `first … first + count - 1`, read with one ranged request. */
export function readPlannedBatches(
  plans: IndexedNdjsonReader,
  runId: string,
  mailboxId: string,
  first: number,
  count: number,
  planVersion: string,
): Promise<PlannedBatch[]> {
  return plans.read<PlannedBatch>(planFile(runId, mailboxId), first, count, planVersion);
}
