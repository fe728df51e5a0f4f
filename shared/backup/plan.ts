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
import { writeIndexedNdjson, type IndexedNdjsonFile, type IndexedNdjsonReader } from '../vault/indexedNdjson.js';
import { layout } from '../vault/layout.js';
import type { DeltaState, ManifestEntry, ManifestFolder, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { coverageRecords, type FolderRoundIds } from './coverage.js';
import { completeItemMetadata, type MetadataOutcome } from './itemMetadata.js';
import { holdsItems, withRecoverableItems } from './recoverableItems.js';
import type { ChangeRecord, PlanSummary, PlannedBatch, PlannedItem, StoredRef } from './types.js';

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

/** What the last committed snapshot tells planning: the links to continue from and what is already stored. */
interface Baseline {
  /** Delta links, only when a committed snapshot stands behind them (an interrupted first run's do not). */
  state: DeltaState | undefined;
  folders: Map<string, ManifestFolder>;
  items: Map<string, StoredRef & { changeKey: string; folderId: string }>;
  /** Items per folder. */
  counts: Map<string, number>;
  /** When the last snapshot's run started. */
  takenAt?: Date;
}

/** The counts planning reports, gathered while the change list is written. */
interface PlanTally {
  toExport: PlannedItem[];
  nextLinks: Record<string, string>;
  changedItems: number;
  removedItems: number;
  failedFolders: number;
  /** Folders listed through their plain item listing because Graph refused their delta (quota). */
  enumeratedFolders: string[];
  anyFull: boolean;
  itemsWithoutSearchKey: number;
  /** Items whose properties delta did not give, read by a listing or item GETs instead. */
  propertiesReadSeparately: number;
  /** What each folder's round listed, for the coverage check. */
  rounds: Map<string, FolderRoundIds>;
  /** Items Exchange counts in a folder that no delta round reported (backed up from the folder's listing). */
  missedByDelta: number;
}

/**
 * Each item once, as last listed: a delta round may list an item more than once (changed between two of its
 * pages), and Graph refuses a whole exportItems call that names an id twice.
 */
function lastListingOf(items: PlannedItem[]): PlannedItem[] {
  return [...new Map(items.map((item) => [item.id, item])).values()];
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
  const baseline = await readBaseline(vault, mailboxId);
  const tree = await readFolderTree(client, mailboxId, baseline);
  // An archive's folders are addressed by id only, so its Recoverable Items (reached by name) are not.
  withRecoverableItems(tree.folders, (settings.recoverableItems ?? false) && !input.archiveOf);
  tree.paths = folderPaths(tree.folders);
  const tally: PlanTally = {
    toExport: [],
    nextLinks: {},
    changedItems: 0,
    removedItems: 0,
    failedFolders: 0,
    enumeratedFolders: [],
    anyFull: tree.fullEnumeration,
    itemsWithoutSearchKey: 0,
    propertiesReadSeparately: 0,
    rounds: new Map(),
    missedByDelta: 0,
  };
  await vault.writeNdjsonGz(
    layout.runChanges(runId, mailboxId),
    withCoverage(changeRecords(client, mailboxId, baseline, tree, tally), client, mailboxId, baseline, tally, {
      planStartedAt,
      logger,
      counts: tree.counts,
    }),
  );

  if (tree.listedInstead) logger.warn(`${input.upn}: ${TREE_LISTED_REASON}`);
  if (tally.propertiesReadSeparately > 0)
    logger.warn(
      `${input.upn}: delta gave no subject, sender or search key for ${tally.propertiesReadSeparately} item(s) (Graph refuses or ignores $expand there); they were read from the folder listings and item GETs instead`,
    );
  for (const folderId of tally.enumeratedFolders)
    logger.warn(
      `${input.upn}, folder '${folderPathText(tree.paths.get(folderId) ?? [folderId])}': ${ENUMERATED_REASON}`,
    );

  const toExport = lastListingOf(tally.toExport);
  const batches = packBatches(toExport, settings);
  // A plan written again (a retried planning, a re-run of the same run id) gets a new version, so that no
  // process can read batches of one plan through the index of another.
  const planVersion = randomUUID();
  const records = batches.map((items, batch) => ({ batch, items }) satisfies PlannedBatch);
  await writeIndexedNdjson(vault, planFile(runId, mailboxId), records, planVersion);
  const next: NextDeltaState = { folderDeltaLink: tree.folderDeltaLink, itemDeltaLinks: tally.nextLinks };
  await vault.writeJson(layout.runNextDelta(runId, mailboxId), next);

  return {
    planVersion,
    batchCount: batches.length,
    itemsToExport: toExport.length,
    reportedBytesToExport: toExport.reduce((sum, item) => sum + item.size, 0),
    changedItems: tally.changedItems,
    removedItems: tally.removedItems,
    folders: tree.folders.size,
    failedFolders: tally.failedFolders,
    enumeratedFolders: tally.enumeratedFolders.length,
    fullEnumeration: tally.anyFull,
    itemsWithoutSearchKey: tally.itemsWithoutSearchKey,
    missedByDelta: tally.missedByDelta,
  };
}

/**
 * The change list, then the proof of coverage (see coverageRecords): items delta missed are planned for export
 * like any other. A coverage check that cannot be made is said in the report; it does not fail the plan.
 */
async function* withCoverage(
  changes: AsyncIterable<ChangeRecord>,
  client: MailboxClient,
  mailboxId: string,
  baseline: Baseline,
  tally: PlanTally,
  { planStartedAt, logger, counts }: { planStartedAt: Date; logger: PlanLogger; counts: Map<string, number> },
): AsyncGenerator<ChangeRecord> {
  yield* changes;
  const coverage = coverageRecords(client, {
    mailboxId,
    counts,
    rounds: tally.rounds,
    planStartedAt,
    baseline: {
      countIn: (folderId) => baseline.counts.get(folderId) ?? 0,
      itemOf: (id) => baseline.items.get(id),
    },
  });
  try {
    for await (const record of coverage) {
      if (record.kind === 'upsert' && !record.known) {
        tally.changedItems++;
        const { id, folderId, changeKey, size } = record.item;
        tally.toExport.push({ id, folderId, changeKey, size });
      }
      if (record.kind === 'folderCount') tally.missedByDelta += record.missedByDelta;
      yield record;
    }
  } catch (error) {
    if (error instanceof MailboxAccessDeniedError) throw error;
    const reason = `the folders' item counts could not be read: ${errorReason(error)}`;
    logger.warn(`${mailboxId}: coverage not checked, ${reason}`);
    yield { kind: 'coverageUnchecked', reason };
  }
}

async function readBaseline(vault: VaultStore, mailboxId: string): Promise<Baseline> {
  const state = await vault.readJson<DeltaState>(layout.deltaState(mailboxId));
  const previous = state?.lastSnapshotId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, state.lastSnapshotId))
    : undefined;
  const baseline: Baseline = {
    state: previous ? state : undefined,
    folders: new Map(),
    items: new Map(),
    counts: new Map(),
  };
  if (!previous) return baseline;
  baseline.takenAt = new Date(previous.takenAt);
  for await (const entry of vault.readNdjsonGz<ManifestEntry>(previous.manifestBlob)) {
    if (entry.kind === 'folder') baseline.folders.set(entry.id, entry);
    else {
      const { changeKey, blob, sha256, length, folderId } = entry;
      baseline.items.set(entry.id, { changeKey, blob, sha256, length, folderId });
      baseline.counts.set(folderId, (baseline.counts.get(folderId) ?? 0) + 1);
    }
  }
  return baseline;
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
 * The run's change list: every folder, then each folder's item changes in folder order. The next folders are
 * read while one is written, each to the end of its round with its items' properties completed: a round is
 * sequential, page after page, and so are the reads that complete it, so one folder at a time would make planning
 * a mailbox of many folders a long row of round trips. Memory: up to FOLDER_ROUNDS_AT_ONCE whole folder rounds.
 */
async function* changeRecords(
  client: MailboxClient,
  mailboxId: string,
  baseline: Baseline,
  tree: FolderTree,
  tally: PlanTally,
): AsyncGenerator<ChangeRecord> {
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
        prepared.set(folderId, prepareFolder(folderId, storedLinkOf(folderId), waysOf(folderId), baseline));
  };
  try {
    startFolders(0);
    for (const [id, folder] of tree.folders) yield { ...folder, path: tree.paths.get(id) ?? [folder.displayName] };
    // The hierarchy's own note: folderId '' stands for the mailbox's folder tree (an empty path in the report).
    if (tree.listedInstead) yield { kind: 'folderEnumerated', folderId: '', reason: TREE_LISTED_REASON };
    for (const [index, folderId] of folderIds.entries()) {
      startFolders(index);
      const ready = await prepared.get(folderId)!;
      prepared.delete(folderId);
      yield* folderChanges(folderId, storedLinkOf(folderId), ready, tally);
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
  baseline: Baseline,
): Promise<PreparedFolder> {
  let outcome: FolderRound;
  try {
    outcome = await readFolderRound(folderId, storedLink, rounds, baseline);
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

/** One folder's records, counted into the tally; a folder that cannot be read carries its previous items over. */
async function* folderChanges(
  folderId: string,
  storedLink: string | undefined,
  ready: PreparedFolder,
  tally: PlanTally,
): AsyncGenerator<ChangeRecord> {
  if ('error' in ready) {
    if (ready.refused) throw ready.error;
    // One folder that cannot be read does not sink the mailbox.
    tally.failedFolders++;
    if (storedLink) tally.nextLinks[folderId] = storedLink;
    yield { kind: 'folderFailed', folderId, reason: errorReason(ready.error) };
    return;
  }
  const { outcome, metadata } = ready;
  tally.rounds.set(folderId, roundIds(outcome));
  tally.propertiesReadSeparately += metadata.asked;
  if (metadata.missing > 0) {
    // Said in the report: restores cannot match these items against what a target already holds.
    tally.itemsWithoutSearchKey += metadata.missing;
    yield { kind: 'metadataGap', folderId, items: metadata.missing, reason: metadata.reason };
  }
  if (outcome.enumerated) {
    tally.enumeratedFolders.push(folderId);
    yield { kind: 'folderEnumerated', folderId, reason: ENUMERATED_REASON };
  }
  if (outcome.full) {
    tally.anyFull = true;
    yield { kind: 'resync', folderId };
  }
  for (const record of outcome.records) {
    if (record.kind === 'upsert' && !record.known) {
      tally.changedItems++;
      const { id, changeKey, size } = record.item;
      tally.toExport.push({ id, folderId, changeKey, size });
    } else if (record.kind === 'remove') tally.removedItems++;
    yield record;
  }
  if (outcome.link) tally.nextLinks[folderId] = outcome.link;
}

function roundIds(outcome: FolderRound): FolderRoundIds {
  const ids: FolderRoundIds = { full: outcome.full, upserts: new Set(), removed: new Set() };
  for (const record of outcome.records)
    if (record.kind === 'upsert') ids.upserts.add(record.item.id);
    else if (record.kind === 'remove') ids.removed.add(record.id);
  return ids;
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
  records: ChangeRecord[];
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
  baseline: Baseline,
): Promise<FolderRound> {
  const collect = async (pages: AsyncIterable<DeltaPage<ListedItem>>, full: boolean, enumerated = false) => {
    const round: FolderRound = { records: [], link: undefined, full, enumerated };
    for await (const page of pages) {
      round.records.push(...pageRecords(page, folderId, baseline));
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

/** A page's records, compared with the last snapshot: an item whose changeKey is stored needs no export. */
function pageRecords(page: DeltaPage<ListedItem>, folderId: string, baseline: Baseline): ChangeRecord[] {
  const out: ChangeRecord[] = [];
  for (const listed of page.changed) {
    const meta = itemMetaOf(listed, folderId);
    const stored = baseline.items.get(meta.id);
    out.push(
      stored && stored.changeKey === meta.changeKey
        ? { kind: 'upsert', item: meta, known: { blob: stored.blob, sha256: stored.sha256, length: stored.length } }
        : { kind: 'upsert', item: meta },
    );
  }
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
