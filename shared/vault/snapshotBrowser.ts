import { samePath } from '../mailbox/index.js';
import { ManifestReader } from './manifestReader.js';
import type { ManifestFolder, ManifestItem, SnapshotRecord } from './records.js';
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
 * and a page of its items (in id order); undefined when the snapshot has no such folder. An indexed manifest is
 * read in parts: its index, its folders, and the one or two chunks of items the page falls in.
 */
export async function browseFolder(
  vault: VaultStore,
  snapshot: SnapshotRecord,
  path: string[],
  page: { skip: number; top: number },
): Promise<FolderPage | undefined> {
  const manifest = await ManifestReader.open(vault, snapshot);
  const { folders, itemCounts } = await manifest.folders();
  const current = folders.find((folder) => samePath(folder.path, path));
  if (!current) return undefined;
  const children = folders
    .filter((folder) => folder.parentId === current.id)
    .map((folder) => ({ folder, items: itemCounts.get(folder.id) ?? 0 }));
  const items = await manifest.folderPage(current.id, page.skip, page.top);
  return { folder: current, total: itemCounts.get(current.id) ?? 0, children, items };
}
