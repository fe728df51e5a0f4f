/**
 * Recoverable Items in a backup. Graph's mailbox API exposes one folder of the Recoverable Items tree: the
 * deletions folder, by its well-known name `recoverableitemsdeletions` (where a soft delete puts an item, per
 * the item delete docs). Purges, Versions, DiscoveryHolds and the rest of the tree are not exposed, so they are
 * not backed up. The folder is outside the IPM subtree, which folder delta walks: it joins the tree by name,
 * under an entry standing for the Recoverable Items root, so snapshots show it as `Recoverable Items/Deletions`
 * and restores put its items into normal folders of that name.
 */
import { folderPaths } from '../mailbox/index.js';
import type { ManifestFolder } from '../vault/records.js';

type TreeFolder = Omit<ManifestFolder, 'path'>;

export const RECOVERABLE_DELETIONS = 'recoverableitemsdeletions';

/** The entry for the Recoverable Items root: a place in the tree only, never read (the API does not expose it). */
export const RECOVERABLE_ROOT = 'recoverableitemsroot';

/**
 * Adds the Recoverable Items folders to a mailbox's folder tree when they are wanted, and otherwise takes out
 * what the last snapshot carried (the setting was turned off). Folder delta never reports them either way.
 */
export function withRecoverableItems(folders: Map<string, TreeFolder>, wanted: boolean): void {
  folders.delete(RECOVERABLE_DELETIONS);
  folders.delete(RECOVERABLE_ROOT);
  if (!wanted) return;
  const paths = folderPaths(folders);
  const mailboxRoot = [...folders.keys()].find((id) => paths.get(id)?.length === 0) ?? null;
  const folder = (id: string, parentId: string | null, displayName: string): TreeFolder => ({
    kind: 'folder',
    id,
    parentId,
    displayName,
    type: 'IPF.Note',
    wellKnownName: id,
  });
  folders.set(RECOVERABLE_ROOT, folder(RECOVERABLE_ROOT, mailboxRoot, 'Recoverable Items'));
  folders.set(RECOVERABLE_DELETIONS, folder(RECOVERABLE_DELETIONS, RECOVERABLE_ROOT, 'Deletions'));
}

/** Whether a folder of the tree has items to read (the Recoverable Items root entry has none). */
export function holdsItems(folderId: string): boolean {
  return folderId !== RECOVERABLE_ROOT;
}
