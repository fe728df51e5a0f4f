import { randomUUID } from 'node:crypto';
import { errorReason } from '../errors.js';
import { MailboxAccessDeniedError, type MailboxClient } from '../graph/index.js';
import { folderPaths, folderPathText } from '../mailbox/index.js';
import { packBySize } from '../packing.js';
import { ExternalSorter, mergeRunsDownUnder, mergeSorted, readSortedRuns } from '../vault/externalSort.js';
import type { IndexedNdjsonFile, IndexedNdjsonReader } from '../vault/indexedNdjson.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import {
  baselineOf,
  sortBaseline,
  withBudget,
  type Baseline,
  type PreviousItem,
  type StoredBaseline,
} from './baseline.js';
import { coverageRecords, ExpectedCounts, type CoverageRecord } from './coverage.js';
import {
  emptyTally,
  ENUMERATED_REASON,
  readRounds,
  TREE_LISTED_REASON,
  type PlanTally,
  type SliceBudget,
} from './folderRounds.js';
import { readFolderTree, storedTree, type StoredTree } from './folderTree.js';
import type { OpenRound } from './openRound.js';
import { itemGroups, resolveGroup, roundRecordKey, type RoundRecord } from './planMerge.js';
import { PlanOutput } from './planOutput.js';
import { holdsItems, withRecoverableItems } from './recoverableItems.js';
import type { PlanSummary, PlannedBatch, PlannedItem } from './types.js';

/**
 * What one slice of planning reads before it checkpoints: a slice of 4,000 delta pages of 10 items would take half
 * an hour at 0.5 s a page, so a slice stops after the folder that brings it past 50,000 item records (or 100
 * folders). A folder of more items than that (by the folder tree's count) is read alone, over as many slices as
 * it takes, stopping after a page (openRound.ts).
 */
export const DEFAULT_SLICE_BUDGET: SliceBudget = { items: 50_000, folders: 100 };

export interface PlanSettings {
  /** Graph's ceiling. */
  maxItemsPerBatch: number;
  /** Budget of reported size per batch; exported streams can be far larger than `size`, so keep it well below what one response should carry. */
  batchReportedBytes: number;
  /** Back up the Recoverable Items deletions folder of primary and shared mailboxes (see recoverableItems.ts). */
  recoverableItems?: boolean;
  /** Records each of planning's external sorts holds in memory (tests make it small to exercise the merge). */
  recordsInMemory?: number;
  /** How much one planning slice reads before it checkpoints (DEFAULT_SLICE_BUDGET). */
  sliceBudget?: SliceBudget;
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

export interface PlanSliceInput extends PlanInput {
  /** 0 starts planning afresh; each next slice continues from the checkpoint the one before it wrote. */
  slice: number;
}

/** A slice's result through Durable: the next slice to run, or the finished plan's counts. */
export type PlanSliceResult = { nextSlice: number } | { summary: PlanSummary };

/** What planning's first slice read: the last snapshot and the folder tree (a few records per folder). */
interface PlanStart {
  planStartedAt: string;
  baseline: StoredBaseline;
  tree: StoredTree;
}

/** Planning's progress, written by each slice (layout.runPlanProgress). */
interface PlanProgress {
  /** The slice that wrote it. */
  slice: number;
  /** The next folder (of those holding items, in tree order) whose round is to be read. */
  nextFolder: number;
  tally: PlanTally;
  /** The rounds' item records read so far, sorted by id: each slice's runs in the vault. */
  roundRuns: string[];
  /** The large folder `nextFolder` whose round is read in part (openRound.ts). */
  openRound?: OpenRound;
  /** Set by the last slice. */
  summary?: PlanSummary;
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

/**
 * Plans one mailbox's run: folder delta, then item delta per folder from the stored links (a full enumeration
 * where there is none or Graph rejects it), compared with the last snapshot so that only new or changed
 * versions are exported. Writes the change list, the batches and the next delta links to the run's folder,
 * and returns counts only. Runs every slice (planMailboxSlice) in turn, in this process.
 */
export async function planMailbox(
  client: MailboxClient,
  vault: VaultStore,
  settings: PlanSettings,
  input: PlanInput,
  logger: PlanLogger = silentPlanLogger,
): Promise<PlanSummary> {
  for (let slice = 0; ;) {
    const result = await planMailboxSlice(client, vault, settings, { ...input, slice }, logger);
    if ('summary' in result) return result.summary;
    slice = result.nextSlice;
  }
}

/**
 * One slice of planning, bounded by `settings.sliceBudget`: slice 0 reads the last snapshot (its items sorted
 * by id into the vault) and the folder tree; every slice reads folders' rounds until its budget is spent and
 * checkpoints (the tally, the names of its sorted runs); the slice that finds every folder read merges the rounds
 * with the last snapshot and writes the change list and the plan. A slice retried after its checkpoint landed
 * returns what it returned then; retried before, it reads the same folders again from the checkpoint before it.
 */
export async function planMailboxSlice(
  client: MailboxClient,
  vault: VaultStore,
  settings: PlanSettings,
  input: PlanSliceInput,
  logger: PlanLogger = silentPlanLogger,
): Promise<PlanSliceResult> {
  try {
    return await planSlice(client, vault, settings, input, logger);
  } catch (error) {
    // Returned, not thrown: a thrown failure would have the activity retried, asking Graph again for nothing.
    if (error instanceof MailboxAccessDeniedError) return { summary: refusedPlan(error) };
    throw error;
  }
}

async function planSlice(
  client: MailboxClient,
  vault: VaultStore,
  settings: PlanSettings,
  input: PlanSliceInput,
  logger: PlanLogger,
): Promise<PlanSliceResult> {
  const { runId, mailboxId, slice } = input;
  const sortIn = (part: string) => ({
    vault,
    prefix: layout.runPlanSort(runId, mailboxId, part),
    ...withBudget(settings),
  });
  let start: PlanStart;
  let progress: PlanProgress;
  let baselineItems: ExternalSorter<PreviousItem> | undefined;
  if (slice === 0) {
    ({ start, items: baselineItems } = await startPlan(client, vault, settings, input, sortIn('previous')));
    progress = { slice: -1, nextFolder: 0, tally: emptyTally(start.tree.fullEnumeration), roundRuns: [] };
  } else {
    const stored = await vault.readJson<PlanProgress>(layout.runPlanProgress(runId, mailboxId));
    if (!stored || stored.slice < slice - 1)
      throw new Error(
        `Planning slice ${slice} of run ${runId} has no checkpoint of slice ${slice - 1} to continue from`,
      );
    if (stored.summary) return { summary: stored.summary };
    if (stored.slice >= slice) return { nextSlice: stored.slice + 1 };
    progress = stored;
    start = (await vault.readJson<PlanStart>(layout.runPlanStart(runId, mailboxId)))!;
  }
  const folderIds = start.tree.folders.map((folder) => folder.id).filter(holdsItems);
  // The slice's records are sorted into runs of its own: a retried slice writes the same names again.
  const rounds = new ExternalSorter<RoundRecord>(sortIn(`rounds/${slice}`), roundRecordKey);
  let checkpointed = false;
  try {
    const budget = settings.sliceBudget ?? DEFAULT_SLICE_BUDGET;
    const from = progress.nextFolder;
    const counts = new Map(start.tree.counts);
    const { next: nextFolder, open: openRound } = await readRounds(
      client,
      mailboxId,
      baselineOf(vault, start.baseline),
      folderIds,
      {
        from,
        budget,
        ...(progress.openRound ? { open: progress.openRound } : {}),
        // A folder larger than a slice's budget is read over as many slices as it takes.
        countOf: (folderId) => counts.get(folderId) ?? 0,
      },
      progress.tally,
      rounds,
      (part) => ({
        vault,
        prefix: layout.runPlanRoundSpill(runId, mailboxId, `${slice}/${part}`),
        ...withBudget(settings),
      }),
    );
    if (nextFolder < folderIds.length) {
      // More slices follow: everything this one holds goes to the vault, named by the checkpoint.
      if (baselineItems) {
        start = { ...start, baseline: { ...start.baseline, itemRuns: await baselineItems.sealInVault() } };
        await vault.writeJson(layout.runPlanStart(runId, mailboxId), start);
      }
      // Kept under what the last slice may read at once; the runs merged away stay until the plan ends.
      const roundRuns = await mergeRunsDownUnder(
        vault,
        [...progress.roundRuns, ...(await rounds.sealInVault())],
        roundRecordKey,
        layout.runPlanSort(runId, mailboxId, `rounds/${slice}/merged`),
      );
      const { openRound: _before, ...rest } = progress;
      await vault.writeJson(layout.runPlanProgress(runId, mailboxId), {
        ...rest,
        slice,
        nextFolder,
        roundRuns,
        ...(openRound ? { openRound } : {}),
      } satisfies PlanProgress);
      checkpointed = true;
      return { nextSlice: slice + 1 };
    }
    // The last slice: what it read stays in memory when it fits the sort budget (a small mailbox writes no run).
    const baseline = baselineOf(vault, start.baseline, baselineItems && (await baselineItems.seal()));
    const thisSlice = await rounds.seal();
    const earlier = progress.roundRuns;
    const roundsById = () =>
      mergeSorted([readSortedRuns(vault, earlier, roundRecordKey), thisSlice.read()], roundRecordKey);
    const summary = await finishPlan(client, vault, settings, {
      input,
      start,
      tally: progress.tally,
      baseline,
      roundsById,
      sortIn,
      logger,
    });
    if (slice > 0) {
      // A retry of this slice answers from here; the runs of every slice before it are no longer needed.
      await vault.writeJson(layout.runPlanProgress(runId, mailboxId), { ...progress, slice, summary });
      await deleteSortedRuns(vault, runId, mailboxId);
    }
    return { summary };
  } finally {
    if (!checkpointed) await Promise.all([rounds.discard(), baselineItems?.discard()]);
  }
}

/** Slice 0: the last snapshot (its items into a sorter by id) and the folder tree. */
async function startPlan(
  client: MailboxClient,
  vault: VaultStore,
  settings: PlanSettings,
  input: PlanSliceInput,
  sort: { vault: VaultStore; prefix: string; recordsInMemory?: number },
): Promise<{ start: PlanStart; items: ExternalSorter<PreviousItem> }> {
  const { mailboxId } = input;
  const planStartedAt = new Date().toISOString();
  const { baseline, items } = await sortBaseline(vault, mailboxId, sort);
  try {
    const tree = await readFolderTree(client, mailboxId, baselineOf(vault, baseline));
    // An archive's folders are addressed by id only, so its Recoverable Items (reached by name) are not.
    withRecoverableItems(tree.folders, (settings.recoverableItems ?? false) && !input.archiveOf);
    tree.paths = folderPaths(tree.folders);
    return { start: { planStartedAt, baseline, tree: storedTree(tree) }, items };
  } catch (error) {
    await items.discard();
    throw error;
  }
}

/** The sorted runs of a plan, once its change list and batches are written (a slice's retry leaves none behind). */
async function deleteSortedRuns(vault: VaultStore, runId: string, mailboxId: string): Promise<void> {
  const names: string[] = [];
  for await (const name of vault.listNames(layout.runPlanSortPrefix(runId, mailboxId))) names.push(name);
  await Promise.all(names.map((name) => vault.deleteIfExists(name)));
}

/**
 * The last slice: the rounds merged by id with the last snapshot (each item compared, the coverage counts
 * gathered), the proof of coverage, then the change list and the plan written from one sort in folder order.
 */
async function finishPlan(
  client: MailboxClient,
  vault: VaultStore,
  settings: PlanSettings,
  {
    input,
    start,
    tally,
    baseline,
    roundsById,
    sortIn,
    logger,
  }: {
    input: PlanSliceInput;
    start: PlanStart;
    tally: PlanTally;
    baseline: Baseline;
    roundsById: () => AsyncIterable<RoundRecord>;
    sortIn: (part: string) => { vault: VaultStore; prefix: string; recordsInMemory?: number };
    logger: PlanLogger;
  },
): Promise<PlanSummary> {
  const { runId, mailboxId } = input;
  const output = new PlanOutput(vault, { runId, mailboxId, folderIds: start.tree.folders.map((f) => f.id), sortIn });
  try {
    const expected = new ExpectedCounts();
    for await (const group of itemGroups(baseline.itemsById.read(), roundsById())) {
      const { resolved, upsertedIn, removedIn } = resolveGroup(group);
      expected.add(group.previous?.folderId, upsertedIn, removedIn);
      for (const item of resolved) await output.add(item);
    }
    const coverage = coverageRecords(client, {
      mailboxId,
      counts: new Map(start.tree.counts),
      rounds: new Map(tally.rounds.map(([folderId, full]) => [folderId, { full }])),
      expected: (folderId, full) => expected.expected(folderId, full, baseline.counts.get(folderId) ?? 0),
      roundsById,
      previousById: () => baseline.itemsById.read(),
      planStartedAt: new Date(start.planStartedAt),
      sort: sortIn('listing'),
    });
    const notes = [...tally.notes];
    // The hierarchy's own note: folderId '' stands for the mailbox's folder tree (an empty path in the report).
    if (start.tree.listedInstead) notes.unshift({ kind: 'folderEnumerated', folderId: '', reason: TREE_LISTED_REASON });
    let missedByDelta = 0;
    for await (const record of withCoverage(coverage, mailboxId, logger)) {
      if (!('note' in record)) await output.add(record.item);
      else {
        notes.push(record.note);
        if (record.note.kind === 'folderCount') missedByDelta += record.note.missedByDelta;
      }
    }
    await output.writeChangeList([...start.tree.folders, ...notes]);
    // A plan written again (a retried planning, a re-run of the same run id) gets a new version, so that no
    // process can read batches of one plan through the index of another.
    const planVersion = randomUUID();
    const plan = await output.writePlan(planFile(runId, mailboxId), settings, planVersion);
    const next: NextDeltaState = {
      ...(start.tree.folderDeltaLink ? { folderDeltaLink: start.tree.folderDeltaLink } : {}),
      itemDeltaLinks: tally.nextLinks,
    };
    await vault.writeJson(layout.runNextDelta(runId, mailboxId), next);
    warnOfGaps(input.upn, start.tree, tally, logger);
    return {
      planVersion,
      ...plan,
      changedItems: output.changedItems,
      removedItems: output.removedItems,
      folders: start.tree.folders.length,
      failedFolders: tally.failedFolders,
      enumeratedFolders: tally.enumeratedFolders.length,
      fullEnumeration: tally.anyFull,
      itemsWithoutSearchKey: tally.itemsWithoutSearchKey,
      missedByDelta,
    };
  } finally {
    await output.discard();
  }
}

/** What the run report must not hide, said as planning found it. */
function warnOfGaps(upn: string, tree: StoredTree, tally: PlanTally, logger: PlanLogger): void {
  if (tree.listedInstead) logger.warn(`${upn}: ${TREE_LISTED_REASON}`);
  if (tally.propertiesReadSeparately > 0)
    logger.warn(
      `${upn}: delta gave no subject, sender or search key for ${tally.propertiesReadSeparately} item(s) (Graph refuses or ignores $expand there); they were read from the folder listings and item GETs instead`,
    );
  const paths = new Map(tree.folders.map((folder) => [folder.id, folder.path]));
  for (const folderId of tally.enumeratedFolders)
    logger.warn(`${upn}, folder '${folderPathText(paths.get(folderId) ?? [folderId])}': ${ENUMERATED_REASON}`);
  // Backed up all the same, but a restore can neither skip them as present nor recover a lost answer for them.
  for (const note of tally.notes)
    if (note.kind === 'metadataGap')
      logger.warn(
        `${upn}, folder '${folderPathText(paths.get(note.folderId) ?? [note.folderId])}': ${note.items} item(s) left without a search key: ${note.reason}`,
      );
}

/**
 * The proof of coverage (see coverageRecords): items delta missed are planned for export like any other. A
 * coverage check that cannot be made is said in the report; it does not fail the plan.
 */
async function* withCoverage(
  coverage: AsyncIterable<CoverageRecord>,
  mailboxId: string,
  logger: PlanLogger,
): AsyncGenerator<CoverageRecord> {
  try {
    yield* coverage;
  } catch (error) {
    if (error instanceof MailboxAccessDeniedError) throw error;
    const reason = `the folders' item counts could not be read: ${errorReason(error)}`;
    logger.warn(`${mailboxId}: coverage not checked, ${reason}`);
    yield { note: { kind: 'coverageUnchecked', reason } };
  }
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
