import { compareKeys, ExternalSorter, readSortedRuns, type SortedRecords } from '../vault/externalSort.js';
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

/** What slice 0 read: the change list's facts, the throttling totals, and how many records it sorted. */
export interface SortedCommitInputs {
  facts: ChangeFacts;
  throttle: { throttledResponses: number; throttleWaitInMs: number };
  records: number;
  /** The sorted inputs kept in memory where they fit (a commit done in one slice). */
  sealed(): Promise<{ inputs: MergeInputs; discard: () => Promise<void> }>;
  /** The sorted inputs written to the vault, named for a checkpoint. */
  sealInVault(): Promise<CommitProgress['runs']>;
  /** Deletes the runs written so far (a slice that failed before its checkpoint). */
  discard(): Promise<void>;
}

/**
 * Slice 0's reading: the change list (its facts kept, its item records sorted), the batch outcomes (sorted), and
 * a previous manifest committed before indexes (sorted once, by the commit that follows it).
 */
export async function sortCommitInputs(
  sort: CommitSort,
  input: { runId: string; mailboxId: string; planVersion: string; batchCount?: number },
  previous: SnapshotRecord | undefined,
): Promise<SortedCommitInputs> {
  const { vault } = sort;
  const { runId, mailboxId } = input;
  const sortUnder = (part: string) => ({ ...sort, prefix: layout.runCommitSort(runId, mailboxId, part) });
  const changes = new ExternalSorter<ItemChangeRecord>(sortUnder('changes'), changeKey);
  const previousSorter = new ExternalSorter<ManifestItem>(sortUnder('previous'), (item) =>
    itemKey(item.folderId, item.id),
  );
  const outcomes = new ExternalSorter<PlacedOutcome>(sortUnder('outcomes'), outcomeKey);
  const discard = async () => {
    await Promise.all([changes.discard(), outcomes.discard(), previousSorter.discard()]);
  };
  try {
    const facts = await readChangeList(vault, runId, mailboxId, changes);
    const throttle = await sortOutcomes(vault, input, outcomes);
    const manifest = previous ? await ManifestReader.open(vault, previous) : undefined;
    if (manifest && !manifest.indexed)
      for await (const entry of manifest.entries()) if (entry.kind === 'item') await previousSorter.add(entry);
    const indexed = manifest?.indexed ? manifest : undefined;
    return {
      facts,
      throttle,
      records: changes.added + outcomes.added + previousSorter.added,
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

/**
 * The change list's per-folder facts, with its item records handed to an external sort: the list is in folder
 * order as planning read the folders, the merge needs (folder, id) order.
 */
async function readChangeList(
  vault: VaultStore,
  runId: string,
  mailboxId: string,
  items: ExternalSorter<ItemChangeRecord>,
): Promise<ChangeFacts> {
  const facts: ChangeFacts = {
    folders: new Map(),
    resynced: new Set(),
    failedFolders: [],
    enumeratedFolders: [],
    metadataGaps: [],
    folderCounts: new Map(),
    notCompared: [],
  };
  for await (const record of vault.readNdjsonGz<ChangeRecord>(layout.runChanges(runId, mailboxId))) {
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
  return facts;
}
