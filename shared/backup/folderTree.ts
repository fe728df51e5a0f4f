import {
  DeltaLinkRejectedError,
  DeltaQuotaExceededError,
  type MailboxClient,
  type MailboxFolder,
  readFolderTreeListing,
} from '../graph/index.js';
import { folderPaths } from '../mailbox/index.js';
import type { ManifestFolder } from '../vault/records.js';
import type { Baseline } from './baseline.js';

type FolderWithoutPath = Omit<ManifestFolder, 'path'>;

export interface FolderTree {
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
export async function readFolderTree(
  client: MailboxClient,
  mailboxId: string,
  baseline: Baseline,
): Promise<FolderTree> {
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
/** The tree as planning's first slice checkpoints it (folders with their paths, in the tree's order). */
export interface StoredTree {
  folders: ManifestFolder[];
  folderDeltaLink?: string;
  fullEnumeration: boolean;
  listedInstead: boolean;
  counts: Array<[string, number]>;
}

export function storedTree(tree: FolderTree): StoredTree {
  return {
    folders: [...tree.folders].map(([id, folder]) => ({ ...folder, path: tree.paths.get(id) ?? [folder.displayName] })),
    ...(tree.folderDeltaLink ? { folderDeltaLink: tree.folderDeltaLink } : {}),
    fullEnumeration: tree.fullEnumeration,
    listedInstead: tree.listedInstead,
    counts: [...tree.counts],
  };
}
