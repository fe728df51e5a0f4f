import type { MailboxClient, MailboxFolder } from '../graph/index.js';

/**
 * Every folder of the mailbox by plain listings, level by level: needs no sync state (so it works over the sync
 * quota), and each folder comes with its counts as Exchange reports them now.
 */
export async function* listFolderTree(client: MailboxClient, mailboxId: string): AsyncGenerator<MailboxFolder> {
  const seen = new Set<string>();
  let level: Array<string | undefined> = [undefined];
  while (level.length > 0) {
    const next: string[] = [];
    for (const parentFolderId of level) {
      for await (const folder of client.listFolders(mailboxId, parentFolderId ? { parentFolderId } : {})) {
        if (seen.has(folder.id)) continue;
        seen.add(folder.id);
        yield folder;
        if (folder.childFolderCount !== 0) next.push(folder.id);
      }
    }
    level = next;
  }
}
