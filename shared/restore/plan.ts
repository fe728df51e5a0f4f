import { GraphRequestError, readFolderTreeListing, type MailboxClient, type MailboxFolder } from '../graph/index.js';
import { folderPathText, samePath, SEARCH_KEY_PROPERTY, searchKeyOf } from '../mailbox/index.js';
import { packBySizeStream } from '../packing.js';
import { IndexedNdjsonReader, writeIndexedNdjsonStream, type IndexedNdjsonFile } from '../vault/indexedNdjson.js';
import { layout } from '../vault/layout.js';
import { ManifestReader } from '../vault/manifestReader.js';
import type { ManifestFolder, ManifestItem, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { withoutPresentItems } from './presentItems.js';
import { matches } from './request.js';
import type { PlannedImport, PlannedImportBatch, RestorePlanSummary, RestoreRequest } from './types.js';

export interface RestorePlanSettings {
  itemsPerBatch: number;
  bytesPerBatch: number;
}

interface TargetFolder {
  id: string;
  parentId: string | null;
  displayName: string;
  wellKnownName: string | null;
}

/** `Restored 2026-11-23 15.04.05` (UTC), from the request time, so a re-planned restore finds its own folder. */
export function restoreFolderName(requestedAt: string): string {
  return `Restored ${requestedAt.slice(0, 19).replace('T', ' ').replace(/:/g, '.')}`;
}

/**
 * The target mailbox's folder tree, and folder creation that is idempotent: a folder is looked up by name under
 * its parent before it is created, and a 409 (created meanwhile) is answered by looking again.
 */
class TargetTree {
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

type SelectedItem = Omit<PlannedImport, 'targetFolderId'> & { folderId: string };

/** A level of a folder path to ensure in the target: its name, and what finds or creates it. */
type PathLevel = { name: string; wellKnownName: string | null; type: string };

/** The restore's plan, as an indexed file of import batches. */
function restorePlanFile(restoreId: string): IndexedNdjsonFile {
  return {
    data: layout.restorePlan(restoreId),
    index: layout.restorePlanIndex(restoreId),
    description: `the plan of restore ${restoreId}`,
  };
}

/**
 * Plans a restore: selects the items of the snapshot, maps their folders onto the target (creating what is
 * missing under the destination), drops items the target already holds (same search key) when collisions are
 * `skip`, and writes import batches to the restore's plan. Returns counts only.
 */
export async function planRestore(
  graph: MailboxClient,
  vault: VaultStore,
  settings: RestorePlanSettings,
  request: RestoreRequest,
): Promise<RestorePlanSummary> {
  const snapshot = await vault.readJson<SnapshotRecord>(
    layout.snapshotRecord(request.source.mailboxId, request.source.snapshotId),
  );
  if (!snapshot) throw new Error(`Snapshot ${request.source.snapshotId} is no longer in the vault`);
  const manifest = await ManifestReader.open(vault, snapshot);
  const { folders } = await manifest.folders();
  const folderById = new Map(folders.map((folder) => [folder.id, folder]));
  const tree = new TargetTree(graph, request.target.mailboxId);
  await tree.load();

  const destinationRoot = destinationLevels(request);
  const targetFolderOf = new Map<string, string>();
  const counts = { selected: 0, toImport: 0, skippedPresent: 0, bytesToImport: 0 };
  async function* selected(): AsyncGenerator<SelectedItem> {
    for await (const item of selectItems(manifest, folderById, request)) {
      counts.selected++;
      yield item;
    }
  }
  const candidates =
    request.collisions === 'skip'
      ? withoutPresentItems(
          selected(),
          searchKeysIn(graph, request.target.mailboxId, tree.ids),
          { vault, prefix: layout.restorePlanSort(request.restoreId) },
          () => counts.skippedPresent++,
        )
      : selected();
  async function* toImport(): AsyncGenerator<PlannedImport> {
    for await (const { folderId, ...item } of candidates) {
      let targetFolderId = targetFolderOf.get(folderId);
      if (!targetFolderId) {
        targetFolderId = await tree.ensure([...destinationRoot, ...sourceLevels(folderById, folderId, request)]);
        targetFolderOf.set(folderId, targetFolderId);
      }
      counts.toImport++;
      counts.bytesToImport += item.length;
      yield { ...item, targetFolderId };
    }
  }
  async function* batches(): AsyncGenerator<PlannedImportBatch> {
    let batch = 0;
    const packed = packBySizeStream(toImport(), settings.itemsPerBatch, settings.bytesPerBatch, (item) => item.length);
    for await (const items of packed) yield { batch: batch++, items };
  }
  const batchCount = await writeIndexedNdjsonStream(vault, restorePlanFile(request.restoreId), batches());
  return {
    batchCount,
    selected: counts.selected,
    toImport: counts.toImport,
    skippedPresent: counts.skippedPresent,
    bytesToImport: counts.bytesToImport,
    destinationRoot: destinationRoot.map((l) => l.name).join('/'),
    foldersCreated: tree.created,
  };
}

/**
 * The items the request's filters select, streamed. With folder filters and an indexed manifest, only the chunks
 * of the selected folders are read.
 */
async function* selectItems(
  manifest: ManifestReader,
  folders: Map<string, ManifestFolder>,
  request: RestoreRequest,
): AsyncGenerator<SelectedItem> {
  const itemIds = request.filters.itemIds ? new Set(request.filters.itemIds) : undefined;
  const wanted = request.filters.folders;
  const candidates =
    manifest.indexed && wanted
      ? folderItems(
          manifest,
          [...folders.values()].filter((f) => wanted.some((w) => samePath(w, f.path.slice(0, w.length)))),
        )
      : manifest.entries();
  for await (const entry of candidates) {
    if (entry.kind !== 'item' || !matches(entry, folders.get(entry.folderId), request.filters, itemIds)) continue;
    yield {
      sourceId: entry.id,
      folderId: entry.folderId,
      blob: entry.blob,
      sha256: entry.sha256,
      length: entry.length,
      folderPath: folderPathText(folders.get(entry.folderId)?.path ?? []),
      ...(entry.subject !== undefined ? { subject: entry.subject } : {}),
      ...(entry.searchKey ? { searchKey: entry.searchKey } : {}),
    };
  }
}

async function* folderItems(manifest: ManifestReader, folders: ManifestFolder[]): AsyncGenerator<ManifestItem> {
  for (const folder of folders) yield* manifest.itemsOf(folder.id);
}

/** The search keys of what the target already holds (the key that survives export and import), streamed. */
async function* searchKeysIn(graph: MailboxClient, mailboxId: string, folderIds: string[]): AsyncGenerator<string> {
  for (const folderId of folderIds) {
    try {
      for await (const item of graph.listItems(mailboxId, folderId, { extendedProperties: [SEARCH_KEY_PROPERTY] })) {
        const key = searchKeyOf(item);
        if (key) yield key;
      }
    } catch (error) {
      // Search folders and the like cannot be listed; they hold nothing of their own.
      if (!(error instanceof GraphRequestError) || error.status >= 500) throw error;
    }
  }
}

/** The folders the restore lands under: a new `Restored …` folder, a folder the admin named, or none. */
function destinationLevels(request: RestoreRequest): PathLevel[] {
  const plainFolder = (name: string): PathLevel => ({ name, wellKnownName: null, type: 'IPF.Note' });
  if (request.destination.mode === 'newFolder') return [plainFolder(restoreFolderName(request.requestedAt))];
  if (request.destination.mode === 'folder') return request.destination.folderPath!.map(plainFolder);
  return [];
}

/**
 * A source folder's path as levels to ensure. Well-known folders map onto the target's own (its Inbox may be
 * called Posteingang) only when restoring in place.
 */
function sourceLevels(folders: Map<string, ManifestFolder>, folderId: string, request: RestoreRequest): PathLevel[] {
  const chain: ManifestFolder[] = [];
  for (let f = folders.get(folderId); f && f.path.length > 0; f = f.parentId ? folders.get(f.parentId) : undefined)
    chain.unshift(f);
  const inPlace = request.destination.mode === 'original';
  return chain.map((f) => ({ name: f.displayName, wellKnownName: inPlace ? f.wellKnownName : null, type: f.type }));
}

/** One planned import batch (the restore's plan is written once, so its index is read each time). */
export async function readImportBatch(
  vault: VaultStore,
  restoreId: string,
  batch: number,
): Promise<PlannedImportBatch> {
  const [planned] = await new IndexedNdjsonReader(vault).read<PlannedImportBatch>(restorePlanFile(restoreId), batch, 1);
  return planned!;
}
