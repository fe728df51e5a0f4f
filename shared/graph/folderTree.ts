import type { MailboxClient } from './mailboxClient.js';
import type { MailboxFolder } from './types.js';

/**
 * Well-known folder names Graph resolves in paths (`folders/inbox`): what a folder listed without its
 * `wellKnownName` (the v1.0 metadata lacks the property) is recognised by. One `$batch` call asks for them all.
 */
export const WELL_KNOWN_FOLDER_ALIASES = [
  'msgfolderroot',
  'inbox',
  'sentitems',
  'drafts',
  'deleteditems',
  'junkemail',
  'outbox',
  'archive',
  'calendar',
  'contacts',
  'tasks',
  'notes',
  'journal',
  'conversationhistory',
  'scheduled',
] as const;

/**
 * Every folder of the mailbox by plain listings, level by level (a level's folders listed at once, within the
 * mailbox's concurrency): needs no sync state (so it works over the sync quota), and each folder comes with its
 * parent, class and counts as Exchange reports them now.
 */
export async function* listFolderTree(client: MailboxClient, mailboxId: string): AsyncGenerator<MailboxFolder> {
  const seen = new Set<string>();
  let level: Array<string | undefined> = [undefined];
  while (level.length > 0) {
    const listings = await Promise.all(level.map((parentFolderId) => listChildren(client, mailboxId, parentFolderId)));
    const next: string[] = [];
    for (const folder of listings.flat()) {
      if (seen.has(folder.id)) continue;
      seen.add(folder.id);
      yield folder;
      if (folder.childFolderCount !== 0) next.push(folder.id);
    }
    level = next;
  }
}

/** The folders directly under a parent (the root without one); a child listing names its parent, whatever the entry says. */
async function listChildren(
  client: MailboxClient,
  mailboxId: string,
  parentFolderId: string | undefined,
): Promise<MailboxFolder[]> {
  const children: MailboxFolder[] = [];
  for await (const folder of client.listFolders(mailboxId, parentFolderId ? { parentFolderId } : {}))
    children.push(parentFolderId && !folder.parentFolderId ? { ...folder, parentFolderId } : folder);
  return children;
}

/** The whole folder tree with each folder's parent, class, counts and well-known name, and the root's id. */
export interface FolderTreeListing {
  folders: Map<string, MailboxFolder>;
  /** The top of the information store (the parent of the top-level folders); it is not listed itself. */
  rootId: string | undefined;
}

/**
 * Lists the folder tree, then names the well-known folders when the listing did not: by their aliases, in one
 * `$batch` call, only if no listed folder carried a `wellKnownName`.
 */
export async function readFolderTreeListing(client: MailboxClient, mailboxId: string): Promise<FolderTreeListing> {
  const folders = new Map<string, MailboxFolder>();
  for await (const folder of listFolderTree(client, mailboxId)) folders.set(folder.id, folder);
  const topLevel = [...folders.values()].filter((f) => !f.parentFolderId || !folders.has(f.parentFolderId));
  let rootId = topLevel.find((f) => f.parentFolderId)?.parentFolderId;
  if ([...folders.values()].some((f) => f.wellKnownName)) return { folders, rootId };
  const wellKnown = await client.getWellKnownFolders(mailboxId, WELL_KNOWN_FOLDER_ALIASES);
  for (const [name, found] of wellKnown) {
    const folder = folders.get(found.id);
    if (folder) folders.set(found.id, { ...folder, wellKnownName: name });
    else if (name === 'msgfolderroot') rootId = found.id;
  }
  return { folders, rootId };
}
