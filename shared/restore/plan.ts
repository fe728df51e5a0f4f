import { GraphRequestError, type MailboxClient, type MailboxFolder } from '../graph/index.js';
import { BACKUP_EXTENDED_PROPERTIES, itemMetaOf } from '../backup/itemMeta.js';
import { folderPathText } from '../backup/types.js';
import { folderPaths, packBySize } from '../backup/plan.js';
import { layout } from '../vault/layout.js';
import type { ManifestFolder, SnapshotRecord } from '../vault/records.js';
import { readManifest } from '../vault/snapshotCatalog.js';
import type { VaultStore } from '../vault/vaultStore.js';
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

  async load(): Promise<void> {
    for await (const page of this.graph.listFolderChanges(this.mailboxId)) {
      for (const f of page.changed)
        this.folders.set(f.id, {
          id: f.id,
          parentId: f.parentFolderId ?? null,
          displayName: f.displayName ?? '',
          wellKnownName: f.wellKnownName ?? null,
        });
    }
    const paths = folderPaths(new Map([...this.folders].map(([id, f]) => [id, { ...f }])));
    const root =
      [...this.folders.values()].find((f) => f.wellKnownName === 'msgfolderroot') ??
      [...this.folders.values()].find((f) => paths.get(f.id)?.length === 0);
    if (root) this.rootId = root.id;
    else {
      // Graph did not list the root: it is the parent every top-level folder shares.
      const parents = new Set(
        [...this.folders.values()].map((f) => f.parentId).filter((p): p is string => !!p && !this.folders.has(p)),
      );
      this.rootId = [...parents][0] ?? 'msgfolderroot';
    }
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
      let found: MailboxFolder | undefined;
      for await (const f of children) if (f.displayName.toLowerCase() === name.toLowerCase()) found = f;
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
  const { restoreId, target } = request;
  const snapshot = await vault.readJson<SnapshotRecord>(
    layout.snapshotRecord(request.source.mailboxId, request.source.snapshotId),
  );
  if (!snapshot) throw new Error(`Snapshot ${request.source.snapshotId} is no longer in the vault`);

  const folders = new Map<string, ManifestFolder>();
  const selected: Array<Omit<PlannedImport, 'targetFolderId'> & { folderId: string }> = [];
  const itemIds = request.filters.itemIds ? new Set(request.filters.itemIds) : undefined;
  for await (const entry of readManifest(vault, snapshot)) {
    if (entry.kind === 'folder') folders.set(entry.id, entry);
    else if (matches(entry, folders.get(entry.folderId), request.filters, itemIds)) {
      selected.push({
        sourceId: entry.id,
        folderId: entry.folderId,
        blob: entry.blob,
        sha256: entry.sha256,
        length: entry.length,
        folderPath: folderPathText(folders.get(entry.folderId)?.path ?? []),
        ...(entry.subject !== undefined ? { subject: entry.subject } : {}),
        ...(entry.searchKey ? { searchKey: entry.searchKey } : {}),
      });
    }
  }

  const tree = new TargetTree(graph, target.mailboxId);
  await tree.load();

  // What the target already holds, by search key (the key that survives export and import).
  const present = new Set<string>();
  if (request.collisions === 'skip') {
    for (const folderId of tree.ids) {
      try {
        for await (const item of graph.listItems(target.mailboxId, folderId, {
          extendedProperties: [BACKUP_EXTENDED_PROPERTIES[3]],
        })) {
          const key = itemMetaOf(item, folderId).searchKey;
          if (key) present.add(key);
        }
      } catch (error) {
        // Search folders and the like cannot be listed; they hold nothing of their own.
        if (!(error instanceof GraphRequestError) || error.status >= 500) throw error;
      }
    }
  }

  const destinationRoot =
    request.destination.mode === 'newFolder'
      ? [{ name: restoreFolderName(request.requestedAt), wellKnownName: null, type: 'IPF.Note' }]
      : request.destination.mode === 'folder'
        ? request.destination.folderPath!.map((name) => ({ name, wellKnownName: null, type: 'IPF.Note' }))
        : [];
  const targetFolderOf = new Map<string, string>();
  const levelsOf = (folderId: string) => {
    const chain: ManifestFolder[] = [];
    for (let f = folders.get(folderId); f && f.path.length > 0; f = f.parentId ? folders.get(f.parentId) : undefined)
      chain.unshift(f);
    // Well-known folders map onto the target's own (its Inbox may be called Posteingang) only when restoring in place.
    return chain.map((f) => ({
      name: f.displayName,
      wellKnownName: request.destination.mode === 'original' ? f.wellKnownName : null,
      type: f.type,
    }));
  };

  const toImport: PlannedImport[] = [];
  let skippedPresent = 0;
  for (const item of selected) {
    if (item.searchKey && present.has(item.searchKey)) {
      skippedPresent++;
      continue;
    }
    let targetFolderId = targetFolderOf.get(item.folderId);
    if (!targetFolderId) {
      targetFolderId = await tree.ensure([...destinationRoot, ...levelsOf(item.folderId)]);
      targetFolderOf.set(item.folderId, targetFolderId);
    }
    const { folderId: _unused, ...rest } = item;
    toImport.push({ ...rest, targetFolderId });
  }

  const batches = packBySize(toImport, settings.itemsPerBatch, settings.bytesPerBatch, (item) => item.length);
  const lines = batches.map((items, batch) => `${JSON.stringify({ batch, items } satisfies PlannedImportBatch)}\n`);
  const offsets = [0];
  for (const line of lines) offsets.push(offsets[offsets.length - 1]! + Buffer.byteLength(line));
  await vault.writeText(layout.restorePlan(restoreId), lines.join(''));
  await vault.writeJson(layout.restorePlanIndex(restoreId), { offsets });

  return {
    batchCount: batches.length,
    selected: selected.length,
    toImport: toImport.length,
    skippedPresent,
    bytesToImport: toImport.reduce((s, i) => s + i.length, 0),
    destinationRoot: destinationRoot.map((l) => l.name).join('/'),
    foldersCreated: tree.created,
  };
}

export async function readImportBatch(
  vault: VaultStore,
  restoreId: string,
  batch: number,
): Promise<PlannedImportBatch> {
  const index = await vault.readJson<{ offsets: number[] }>(layout.restorePlanIndex(restoreId));
  const start = index?.offsets[batch];
  const end = index?.offsets[batch + 1];
  if (start === undefined || end === undefined)
    throw new Error(`Batch ${batch} is not in the plan of restore ${restoreId}`);
  return JSON.parse(
    (await vault.readRange(layout.restorePlan(restoreId), start, end - start)).toString('utf8'),
  ) as PlannedImportBatch;
}
