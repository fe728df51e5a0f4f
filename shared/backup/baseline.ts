import { ExternalSorter, type SortedRecords, type SortOptions } from '../vault/externalSort.js';
import { layout } from '../vault/layout.js';
import type { DeltaState, ManifestEntry, ManifestFolder, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { StoredRef } from './types.js';

/** An item of the last snapshot, as planning compares with it. */
export type PreviousItem = StoredRef & { id: string; folderId: string; changeKey: string };

/** What the last committed snapshot tells planning: the links to continue from and what is already stored. */
export interface Baseline {
  /** Delta links, only when a committed snapshot stands behind them (an interrupted first run's do not). */
  state: DeltaState | undefined;
  folders: Map<string, ManifestFolder>;
  /** Items per folder. */
  counts: Map<string, number>;
  /** The last snapshot's items in id order (through the vault when they exceed the sort budget). */
  itemsById: SortedRecords<PreviousItem>;
  /** When the last snapshot's run started. */
  takenAt?: Date;
  /** Deletes the sorted runs. */
  discard(): Promise<void>;
}

export const previousKey = (item: PreviousItem): string => item.id;

/**
 * Reads the last snapshot once: its folders and per-folder counts in memory (a number per folder), its items
 * sorted by id through the vault, so that planning merges with them instead of holding them in a map.
 */
export async function readBaseline(
  vault: VaultStore,
  mailboxId: string,
  sort: Omit<SortOptions, 'prefix'> & { prefixOf: (part: string) => string },
): Promise<Baseline> {
  const state = await vault.readJson<DeltaState>(layout.deltaState(mailboxId));
  const previous = state?.lastSnapshotId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, state.lastSnapshotId))
    : undefined;
  const sorter = new ExternalSorter<PreviousItem>(
    { vault: sort.vault, prefix: sort.prefixOf('previous'), ...withBudget(sort) },
    previousKey,
  );
  const folders = new Map<string, ManifestFolder>();
  const counts = new Map<string, number>();
  if (previous) {
    for await (const entry of vault.readNdjsonGz<ManifestEntry>(previous.manifestBlob)) {
      if (entry.kind === 'folder') folders.set(entry.id, entry);
      else {
        const { id, changeKey, blob, sha256, length, folderId } = entry;
        await sorter.add({ id, folderId, changeKey, blob, sha256, length });
        counts.set(folderId, (counts.get(folderId) ?? 0) + 1);
      }
    }
  }
  return {
    state: previous ? state : undefined,
    folders,
    counts,
    itemsById: await sorter.seal(),
    ...(previous ? { takenAt: new Date(previous.takenAt) } : {}),
    discard: () => sorter.discard(),
  };
}

export function withBudget(sort: { recordsInMemory?: number }): { recordsInMemory?: number } {
  return sort.recordsInMemory ? { recordsInMemory: sort.recordsInMemory } : {};
}
