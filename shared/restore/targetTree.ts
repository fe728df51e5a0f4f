import { GraphRequestError, readFolderTreeListing, type MailboxClient, type MailboxFolder } from '../graph/index.js';

interface TargetFolder {
  id: string;
  parentId: string | null;
  displayName: string;
  wellKnownName: string | null;
}

/**
 * The target mailbox's folder tree, and folder creation that is idempotent: a folder is looked up by name under
 * its parent before it is created, and a 409 (created meanwhile) is answered by looking again.
 */
export class TargetTree {
  private readonly folders = new Map<string, TargetFolder>();
  private rootId = '';
  created = 0;

  constructor(
    private readonly graph: MailboxClient,
    private readonly mailboxId: string,
  ) {}

  /** The target's tree from its listing (folder delta entries may lack parent and well-known name). */
  async load(): Promise<void> {
    const { folders, rootId } = await readFolderTreeListing(this.graph, this.mailboxId);
    for (const f of folders.values())
      this.folders.set(f.id, {
        id: f.id,
        parentId: f.parentFolderId ?? null,
        displayName: f.displayName ?? '',
        wellKnownName: f.wellKnownName ?? null,
      });
    // An empty tree (no folder listed): the root's alias stands for it, and new folders go straight under it.
    this.rootId = rootId ?? 'msgfolderroot';
  }

  get ids(): string[] {
    return [...this.folders.keys()];
  }

  private child(parentId: string, name: string, wellKnownName: string | null): TargetFolder | undefined {
    const children = [...this.folders.values()].filter((f) => (f.parentId ?? '') === parentId);
    return (
      (wellKnownName ? children.find((f) => f.wellKnownName === wellKnownName) : undefined) ??
      children.find((f) => f.displayName === name) ??
      children.find((f) => f.displayName.toLowerCase() === name.toLowerCase())
    );
  }

  private async create(parentId: string, name: string, type: string): Promise<TargetFolder> {
    let folder: MailboxFolder;
    try {
      folder = await this.graph.createFolder(this.mailboxId, {
        displayName: name,
        type,
        ...(parentId === this.rootId ? {} : { parentFolderId: parentId }),
      });
    } catch (error) {
      if (!(error instanceof GraphRequestError) || error.status !== 409) throw error;
      // Created by an earlier attempt of this plan: find it.
      const children = this.graph.listFolders(
        this.mailboxId,
        parentId === this.rootId ? {} : { parentFolderId: parentId },
      );
      // Only a folder of that name under the same parent: a listing may hold folders of other levels too.
      const underParent = (f: MailboxFolder) =>
        !f.parentFolderId ||
        f.parentFolderId === parentId ||
        (parentId === this.rootId && !this.folders.has(f.parentFolderId));
      let found: MailboxFolder | undefined;
      for await (const f of children)
        if (f.displayName.toLowerCase() === name.toLowerCase() && underParent(f)) found = f;
      if (!found) throw error;
      folder = found;
    }
    const record: TargetFolder = {
      id: folder.id,
      parentId,
      displayName: folder.displayName ?? name,
      wellKnownName: folder.wellKnownName ?? null,
    };
    this.folders.set(record.id, record);
    this.created++;
    return record;
  }

  /** Walks (and creates where missing) a path under the root; `hints` carry each level's well-known name and class. */
  async ensure(path: Array<{ name: string; wellKnownName: string | null; type: string }>): Promise<string> {
    let parentId = this.rootId;
    for (const level of path) {
      const existing = this.child(parentId, level.name, level.wellKnownName);
      parentId = (existing ?? (await this.create(parentId, level.name, level.type))).id;
    }
    return parentId;
  }
}
