import { folderPathText } from '../mailbox/index.js';
import type { ManifestFolder, ManifestItem, SnapshotRecord } from './records.js';
import type { ManifestSource } from './itemSearch.js';

/** How an item differs from the base snapshot to the other: new, another version, gone, or in another folder. */
export type ChangeKind = 'added' | 'changed' | 'deleted' | 'moved';
export const CHANGE_KINDS: readonly ChangeKind[] = ['added', 'changed', 'deleted', 'moved'];

export interface ItemChange {
  kind: ChangeKind;
  /** The item as the other snapshot has it; for `deleted`, as the base snapshot had it. */
  item: ManifestItem;
  /** Where the change is counted: the item's folder in the other snapshot (in the base one for `deleted`). */
  folderPath: string;
  /** For `moved`: the folder the item was in. */
  fromFolderPath?: string;
}

export type ChangeCounts = Record<ChangeKind, number>;

export interface FolderChanges extends ChangeCounts {
  folderPath: string;
}

/**
 * Items held in memory at once while comparing: the base snapshot's items are compared in partitions of about
 * this many (by a hash of the item id), each partition one pass over both manifests, so a million-item mailbox
 * is compared in bounded memory at the cost of more passes.
 */
export const COMPARE_PARTITION_ITEMS = 50_000;

/** FNV-1a of the id: cheap, and spreads Graph's ids evenly over the partitions. */
function partitionOf(id: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % partitions;
}

/** An item's version: its change key, or where it has none its content hash. */
const versionOf = (item: ManifestItem) => item.changeKey || item.sha256;

/**
 * Every difference between a base snapshot and another of the same mailbox, streamed. Items are matched by id:
 * an item whose id is only in the other snapshot is `added`, only in the base `deleted`; in another folder it is
 * `moved` (whatever its version), else `changed` when its version differs.
 */
export async function* diffSnapshots(
  base: SnapshotRecord,
  other: SnapshotRecord,
  source: ManifestSource,
  partitionItems = COMPARE_PARTITION_ITEMS,
): AsyncGenerator<ItemChange> {
  const partitions = Math.max(1, Math.ceil(Math.max(base.itemCount, other.itemCount) / partitionItems));
  for (let partition = 0; partition < partitions; partition++) {
    const inPartition = (id: string) => partitions === 1 || partitionOf(id, partitions) === partition;
    const baseFolders = new Map<string, ManifestFolder>();
    const baseItems = new Map<string, ManifestItem>();
    for await (const entry of source(base)) {
      if (entry.kind === 'folder') baseFolders.set(entry.id, entry);
      else if (inPartition(entry.id)) baseItems.set(entry.id, entry);
    }
    const pathIn = (folders: Map<string, ManifestFolder>, id: string) => folderPathText(folders.get(id)?.path ?? []);
    const otherFolders = new Map<string, ManifestFolder>();
    for await (const entry of source(other)) {
      if (entry.kind === 'folder') {
        otherFolders.set(entry.id, entry);
        continue;
      }
      if (!inPartition(entry.id)) continue;
      const before = baseItems.get(entry.id);
      const folderPath = pathIn(otherFolders, entry.folderId);
      if (!before) yield { kind: 'added', item: entry, folderPath };
      else {
        baseItems.delete(entry.id);
        if (before.folderId !== entry.folderId)
          yield { kind: 'moved', item: entry, folderPath, fromFolderPath: pathIn(baseFolders, before.folderId) };
        else if (versionOf(before) !== versionOf(entry)) yield { kind: 'changed', item: entry, folderPath };
      }
    }
    for (const item of baseItems.values())
      yield { kind: 'deleted', item, folderPath: pathIn(baseFolders, item.folderId) };
  }
}

const noChanges = (): ChangeCounts => ({ added: 0, changed: 0, deleted: 0, moved: 0 });

/** Counts per folder (folders with any change, by path) and in all: what the compare page shows first. */
export async function summarizeChanges(
  changes: AsyncIterable<ItemChange>,
): Promise<{ folders: FolderChanges[]; totals: ChangeCounts }> {
  const perFolder = new Map<string, FolderChanges>();
  const totals = noChanges();
  for await (const change of changes) {
    let counts = perFolder.get(change.folderPath);
    if (!counts) perFolder.set(change.folderPath, (counts = { folderPath: change.folderPath, ...noChanges() }));
    counts[change.kind]++;
    totals[change.kind]++;
  }
  const folders = [...perFolder.values()].sort((a, b) => a.folderPath.localeCompare(b.folderPath));
  return { folders, totals };
}

/** One page of the changes of a kind (optionally in one folder), and whether there are more. */
export async function pageOfChanges(
  changes: AsyncIterable<ItemChange>,
  filter: { kind: ChangeKind; folderPath?: string },
  page: { skip: number; top: number },
): Promise<{ items: ItemChange[]; total: number }> {
  const items: ItemChange[] = [];
  let total = 0;
  for await (const change of changes) {
    if (change.kind !== filter.kind) continue;
    if (filter.folderPath !== undefined && change.folderPath !== filter.folderPath) continue;
    if (total >= page.skip && items.length < page.top) items.push(change);
    total++;
  }
  return { items, total };
}
