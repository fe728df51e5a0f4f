import { samePath } from '../mailbox/index.js';
import type { ManifestFolder, ManifestItem, SnapshotRecord } from './records.js';
import { readManifest } from './snapshotCatalog.js';
import type { VaultStore } from './vaultStore.js';

export interface FolderPage {
  folder: ManifestFolder;
  /** Items directly in the folder. */
  total: number;
  children: Array<{ folder: ManifestFolder; items: number }>;
  items: ManifestItem[];
}

/**
 * One folder of a snapshot (by path, names compared without case), its sub-folders with their item counts,
 * and a page of its items; undefined when the snapshot has no such folder. One pass over the manifest.
 */
export async function browseFolder(
  vault: VaultStore,
  snapshot: SnapshotRecord,
  path: string[],
  page: { skip: number; top: number },
): Promise<FolderPage | undefined> {
  const folders = new Map<string, ManifestFolder>();
  const itemCounts = new Map<string, number>();
  const items: ManifestItem[] = [];
  let total = 0;
  let current: ManifestFolder | undefined;
  for await (const entry of readManifest(vault, snapshot)) {
    if (entry.kind === 'folder') {
      folders.set(entry.id, entry);
      if (samePath(entry.path, path)) current ??= entry;
      continue;
    }
    itemCounts.set(entry.folderId, (itemCounts.get(entry.folderId) ?? 0) + 1);
    if (current && entry.folderId === current.id) {
      if (total >= page.skip && items.length < page.top) items.push(entry);
      total++;
    }
  }
  if (!current) return undefined;
  const parentId = current.id;
  const children = [...folders.values()]
    .filter((folder) => folder.parentId === parentId)
    .map((folder) => ({ folder, items: itemCounts.get(folder.id) ?? 0 }));
  return { folder: current, total, children, items };
}
