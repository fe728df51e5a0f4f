import {
  compareKeys,
  ExternalSorter,
  mergeSmallestNeighbours,
  readSortedRuns,
  type SortedRecords,
} from '../vault/externalSort.js';
import { layout } from '../vault/layout.js';
import { ManifestReader } from '../vault/manifestReader.js';
import type { ManifestItem, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { ChangeFacts } from './commitMerge.js';
import type { CommitProgress } from './commitProgress.js';
import {
  changeKey,
  itemKey,
  outcomeKey,
  sortOutcomes,
  type ItemChangeRecord,
  type PlacedOutcome,
} from './itemChanges.js';
import type { ChangeRecord } from './types.js';

/** Sort settings of the commit (the tests make the in-memory budget small to exercise the merge). */
export interface CommitSort {
  vault: VaultStore;
  recordsInMemory?: number;
}

/**
 * The merge's three sorted inputs, each readable from a key on (the key after which a slice resumes): the
 * change list's item records, the export outcomes, and the previous snapshot's items (none for a first backup).
 */
export interface MergeInputs {
  changes(after: string | undefined): AsyncIterable<ItemChangeRecord>;
  outcomes(after: string | undefined): AsyncIterable<PlacedOutcome>;
  previous(after: string | undefined): AsyncIterable<ManifestItem> | undefined;
}

/**
 * How far the reading of a commit's inputs has got when it takes more than one slice (the checkpoint carries it
 * until every input is sorted): change-list records and batch results read so far, in their order.
 */
export interface SortProgress {
  changeRecords: number;
  changesRead: boolean;
  batchesRead: number;
}

/** What a slice's reading read: the facts and throttling totals so far, and the records it sorted. */
export interface SortedCommitInputs {
  facts: ChangeFacts;
  throttle: { throttledResponses: number; throttleWaitInMs: number };
  records: number;
  /** Where the reading stands after this slice; absent once every input is sorted. */
  progress?: SortProgress;
  /** The sorted inputs kept in memory where they fit (a commit done in one slice). */
  sealed(): Promise<{ inputs: MergeInputs; discard: () => Promise<void> }>;
  /** This slice's sorted records written to the vault: runs the checkpoint adds to those of the slices before. */
  sealInVault(): Promise<CommitProgress['runs']>;
  /** Deletes the runs written so far (a slice that failed before its checkpoint). */
  discard(): Promise<void>;
}

/** Where a slice's reading starts: nothing read yet (slice 0), or a checkpoint's reading with its totals. */
export interface SortFrom {
  slice: number;
  progress?: SortProgress;
  facts?: ChangeFacts;
  throttle?: { throttledResponses: number; throttleWaitInMs: number };
}

/**
 * A slice's reading: from where `from` stands, the change list (its facts kept, its item records sorted), then the
 * batch outcomes (sorted), until `budget` records were read or all were; a previous manifest committed before
 * indexes is sorted whole once the rest is read (once per mailbox: the commit that follows it writes an index).
 * Each slice sorts into runs of its own, so a retried slice writes the same runs again.
 */
export async function sortCommitInputs(
  sort: CommitSort & { budget: number },
  input: { runId: string; mailboxId: string; planVersion: string; batchCount?: number },
  previous: SnapshotRecord | undefined,
  from: SortFrom,
): Promise<SortedCommitInputs> {
  const { vault, budget } = sort;
  const { runId, mailboxId } = input;
  const sortUnder = (name: string) => ({ ...sort, prefix: sliceSortPrefix(input, from.slice, name) });
  const changes = new ExternalSorter<ItemChangeRecord>(sortUnder('changes'), changeKey);
  const previousSorter = new ExternalSorter<ManifestItem>(sortUnder('previous'), (item) =>
    itemKey(item.folderId, item.id),
  );
  const outcomes = new ExternalSorter<PlacedOutcome>(sortUnder('outcomes'), outcomeKey);
  const discard = async () => {
    await Promise.all([changes.discard(), outcomes.discard(), previousSorter.discard()]);
  };
  try {
    const progress = { ...(from.progress ?? { changeRecords: 0, changesRead: false, batchesRead: 0 }) };
    const facts = from.facts ?? emptyFacts();
    const throttle = { ...(from.throttle ?? { throttledResponses: 0, throttleWaitInMs: 0 }) };
    let read = 0;
    if (!progress.changesRead) {
      const changeList = await readChangeList(vault, runId, mailboxId, changes, facts, progress.changeRecords, budget);
      progress.changeRecords += changeList.read;
      progress.changesRead = changeList.done;
      read += changeList.read;
    }
    let outcomesRead = false;
    if (progress.changesRead) {
      const outcomesFrom = { batchesRead: progress.batchesRead, budget: Math.max(0, budget - read) };
      const sorted = await sortOutcomes(vault, input, outcomes, outcomesFrom);
      throttle.throttledResponses += sorted.throttledResponses;
      throttle.throttleWaitInMs += sorted.throttleWaitInMs;
      progress.batchesRead = sorted.batchesRead;
      outcomesRead = sorted.done;
    }
    const manifest = outcomesRead && previous ? await ManifestReader.open(vault, previous) : undefined;
    if (manifest && !manifest.indexed)
      for await (const entry of manifest.entries()) if (entry.kind === 'item') await previousSorter.add(entry);
    const indexed = manifest?.indexed ? manifest : undefined;
    return {
      facts,
      throttle,
      records: changes.added + outcomes.added + previousSorter.added,
      ...(outcomesRead ? {} : { progress }),
      sealed: async () => {
        const held = {
          changes: await changes.seal(),
          outcomes: await outcomes.seal(),
          previous: await previousSorter.seal(),
        };
        return { inputs: inMemory(held, indexed), discard };
      },
      sealInVault: async () => {
        const runs: CommitProgress['runs'] = {
          changes: await changes.sealInVault(),
          outcomes: await outcomes.sealInVault(),
        };
        if (manifest && !indexed) runs.previous = await previousSorter.sealInVault();
        return runs;
      },
      discard,
    };
  } catch (error) {
    await discard();
    throw error;
  }
}

/** Where a slice's runs of one input go: slice 0's as before slices, `<input>-s000003/` for the others. */
function sliceSortPrefix(input: { runId: string; mailboxId: string }, slice: number, name: string): string {
  const part = slice === 0 ? name : `${name}-s${String(slice).padStart(6, '0')}`;
  return layout.runCommitSort(input.runId, input.mailboxId, part);
}

/**
 * A checkpoint's runs with a slice's added. When the reading spans slices, each slice's runs of an input are
 * merged into one (read once more), so the runs grow by one per slice, not by one per 5,000 records; past 64
 * of them (12.8 million records at the default budget) the smallest neighbours are merged, two runs a slice.
 * Names are the slice's own, so a retried slice writes the same ones again.
 */
export async function addSliceRuns(
  vault: VaultStore,
  input: { runId: string; mailboxId: string; slice: number },
  before: CommitProgress['runs'] | undefined,
  added: CommitProgress['runs'],
  spansSlices: boolean,
): Promise<CommitProgress['runs']> {
  const combine = async <T>(name: string, earlier: string[], runs: string[], keyOf: (record: T) => string) => {
    const prefix = sliceSortPrefix(input, input.slice, name);
    let mine = runs;
    if (spansSlices && runs.length > 1) {
      const one = `${prefix}all.ndjson.gz`;
      await vault.writeNdjsonGz(one, readSortedRuns(vault, runs, keyOf));
      mine = [one];
    }
    return mergeSmallestNeighbours(vault, [...earlier, ...mine], keyOf, `${prefix}merged-`);
  };
  return {
    changes: await combine('changes', before?.changes ?? [], added.changes, changeKey),
    outcomes: await combine('outcomes', before?.outcomes ?? [], added.outcomes, outcomeKey),
    ...(added.previous ? { previous: added.previous } : {}),
  };
}

/**
 * Deletes what a slice wrote under its own names: its sorts' runs, and the runs addSliceRuns wrote from them (a
 * slice that failed before its checkpoint; the runs of the slices before it, which their checkpoint names, stay).
 */
export async function discardSliceRuns(
  vault: VaultStore,
  input: { runId: string; mailboxId: string; slice: number },
): Promise<void> {
  for (const name of ['changes', 'outcomes', 'previous']) {
    const names: string[] = [];
    for await (const blob of vault.listNames(sliceSortPrefix(input, input.slice, name))) names.push(blob);
    await Promise.all(names.map((blob) => vault.deleteIfExists(blob)));
  }
}

/** The inputs a checkpoint names: sorted runs in the vault, and the previous manifest by its index. */
export async function inputsFromRuns(
  vault: VaultStore,
  runs: CommitProgress['runs'],
  previous: SnapshotRecord | undefined,
): Promise<MergeInputs> {
  const manifest = previous && !runs.previous ? await ManifestReader.open(vault, previous) : undefined;
  return {
    changes: (after) => skipTo(readSortedRuns(vault, runs.changes, changeKey), changeKey, after),
    outcomes: (after) => skipTo(readSortedRuns(vault, runs.outcomes, outcomeKey), outcomeKey, after),
    previous: (after) => {
      if (runs.previous) return skipTo(readSortedRuns(vault, runs.previous, previousKey), previousKey, after);
      return manifest?.itemsAfter(after, itemKey);
    },
  };
}

function inMemory(
  held: {
    changes: SortedRecords<ItemChangeRecord>;
    outcomes: SortedRecords<PlacedOutcome>;
    previous: SortedRecords<ManifestItem>;
  },
  indexedPrevious: ManifestReader | undefined,
): MergeInputs {
  return {
    changes: (after) => skipTo(held.changes.read(), changeKey, after),
    outcomes: (after) => skipTo(held.outcomes.read(), outcomeKey, after),
    previous: (after) =>
      indexedPrevious ? indexedPrevious.itemsAfter(after, itemKey) : skipTo(held.previous.read(), previousKey, after),
  };
}

const previousKey = (item: ManifestItem) => itemKey(item.folderId, item.id);

/** The records of a sorted stream after a key (all of them without one). */
async function* skipTo<T>(records: AsyncIterable<T>, keyOf: (record: T) => string, after: string | undefined) {
  for await (const record of records) if (after === undefined || compareKeys(keyOf(record), after) > 0) yield record;
}

function emptyFacts(): ChangeFacts {
  return {
    folders: new Map(),
    resynced: new Set(),
    failedFolders: [],
    enumeratedFolders: [],
    metadataGaps: [],
    folderCounts: new Map(),
    notCompared: [],
  };
}

/**
 * The change list's per-folder facts added to `facts`, its item records handed to an external sort (the list is
 * in folder order as planning read the folders, the merge needs (folder, id) order): from record `skip` on, at
 * most `budget` records. The list has no index: the records skipped are read but not parsed.
 */
async function readChangeList(
  vault: VaultStore,
  runId: string,
  mailboxId: string,
  items: ExternalSorter<ItemChangeRecord>,
  facts: ChangeFacts,
  skip: number,
  budget: number,
): Promise<{ read: number; done: boolean }> {
  let read = 0;
  const records = vault.readNdjsonGz<ChangeRecord>(layout.runChanges(runId, mailboxId), { skipRecords: skip });
  for await (const record of records) {
    if (read >= budget) return { read, done: false };
    read++;
    switch (record.kind) {
      case 'folder':
        facts.folders.set(record.id, record);
        break;
      case 'resync':
        facts.resynced.add(record.folderId);
        break;
      case 'upsert':
      case 'remove':
        await items.add(record);
        break;
      case 'folderFailed':
        facts.failedFolders.push({ folderId: record.folderId, reason: record.reason });
        break;
      case 'folderEnumerated':
        facts.enumeratedFolders.push({ folderId: record.folderId, reason: record.reason });
        break;
      case 'metadataGap':
        facts.metadataGaps.push(record);
        break;
      case 'folderCount': {
        const { exchangeCount, missedByDelta, arrivedDuringRun } = record;
        facts.folderCounts.set(record.folderId, { exchangeCount, missedByDelta, arrivedDuringRun });
        break;
      }
      case 'coverageUnchecked':
        facts.coverageUnchecked = record.reason;
        break;
      case 'folderNotCompared':
        facts.notCompared.push(record);
        break;
    }
  }
  return { read, done: true };
}
