import { ExternalSorter, readSortedRuns, type SortedRecords, type SortOptions } from '../vault/externalSort.js';
import { layout } from '../vault/layout.js';
import type { DeltaState, ManifestEntry, ManifestFolder, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { StoredRef } from './types.js';

/** An item of the last snapshot, as planning compares with it. */
export type PreviousItem = StoredRef & { id: string; folderId: string; changeKey: string };

/** What the last committed snapshot tells planning, as its first slice checkpoints it (a few numbers per folder). */
export interface StoredBaseline {
  /** Delta links, only when a committed snapshot stands behind them (an interrupted first run's do not). */
  state?: DeltaState;
  folders: ManifestFolder[];
  /** Items per folder. */
  counts: Array<[string, number]>;
  /** When the last snapshot's run started. */
  takenAt?: string;
  /** The last snapshot's items sorted by id: runs in the vault. */
  itemRuns: string[];
}

/** The same, as planning uses it. */
export interface Baseline {
  state: DeltaState | undefined;
  folders: Map<string, ManifestFolder>;
  counts: Map<string, number>;
  itemsById: SortedRecords<PreviousItem>;
  takenAt?: Date;
}

export const previousKey = (item: PreviousItem): string => item.id;

/**
 * Reads the last snapshot once: its folders and per-folder counts, and its items into a sorter by id (sealed in
 * memory when planning ends in the same slice, into the vault when a checkpoint must name its runs), so that
 * planning merges with them instead of holding them in a map.
 */
export async function sortBaseline(
  vault: VaultStore,
  mailboxId: string,
  sort: SortOptions,
): Promise<{ baseline: StoredBaseline; items: ExternalSorter<PreviousItem> }> {
  const items = new ExternalSorter<PreviousItem>(sort, previousKey);
  const state = await vault.readJson<DeltaState>(layout.deltaState(mailboxId));
  const previous = state?.lastSnapshotId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, state.lastSnapshotId))
    : undefined;
  if (!previous) return { baseline: { folders: [], counts: [], itemRuns: [] }, items };
  const folders: ManifestFolder[] = [];
  const counts = new Map<string, number>();
  for await (const entry of vault.readNdjsonGz<ManifestEntry>(previous.manifestBlob)) {
    if (entry.kind === 'folder') folders.push(entry);
    else {
      const { id, changeKey, blob, sha256, length, folderId } = entry;
      await items.add({ id, folderId, changeKey, blob, sha256, length });
      counts.set(folderId, (counts.get(folderId) ?? 0) + 1);
    }
  }
  const baseline: StoredBaseline = { folders, counts: [...counts], takenAt: previous.takenAt, itemRuns: [] };
  return { baseline: state ? { state, ...baseline } : baseline, items };
}

/** The baseline as planning uses it; its items from the runs the checkpoint names, unless given. */
export function baselineOf(
  vault: VaultStore,
  stored: StoredBaseline,
  itemsById?: SortedRecords<PreviousItem>,
): Baseline {
  return {
    state: stored.state,
    folders: new Map(stored.folders.map((folder) => [folder.id, folder])),
    counts: new Map(stored.counts),
    itemsById: itemsById ?? { read: () => readSortedRuns(vault, stored.itemRuns, previousKey) },
    ...(stored.takenAt ? { takenAt: new Date(stored.takenAt) } : {}),
  };
}

export function withBudget(sort: { recordsInMemory?: number }): { recordsInMemory?: number } {
  return sort.recordsInMemory ? { recordsInMemory: sort.recordsInMemory } : {};
}
