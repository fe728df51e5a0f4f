import type { MailboxClient } from '../graph/index.js';
import { packBySizeStream } from '../packing.js';
import {
  emptyIndexedNdjsonDraft,
  finishIndexedNdjson,
  IndexedNdjsonBlockWriter,
  IndexedNdjsonReader,
  type IndexedNdjsonDraft,
  type IndexedNdjsonFile,
} from '../vault/indexedNdjson.js';
import { layout } from '../vault/layout.js';
import { ManifestReader } from '../vault/manifestReader.js';
import type { ManifestFolder, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { destinationLevels, selectItems, sourceLevels, type SelectedItem } from './planSelection.js';
import { withoutPresentItems } from './presentItems.js';
import {
  listedTargetKeys,
  listTargetKeys,
  startTargetKeys,
  targetKeysListed,
  type TargetKeysProgress,
} from './targetKeys.js';
import { TargetTree } from './targetTree.js';
import type { PlannedImportBatch, RestorePlanSummary, RestoreRequest } from './types.js';

export { restoreFolderName } from './planSelection.js';

/** Items (of the source's manifest, or listed in the target) one planning slice works through (see planRestoreSlice). */
export const DEFAULT_RESTORE_PLAN_SLICE_ITEMS = 200_000;

export interface RestorePlanSettings {
  itemsPerBatch: number;
  bytesPerBatch: number;
  /** Items one slice works through before it checkpoints (DEFAULT_RESTORE_PLAN_SLICE_ITEMS). */
  sliceItems?: number;
  /** The skip's sort budgets (tests make them small). */
  recordsInMemory?: number;
  keysInMemory?: number;
}

/**
 * Where a restore plan in slices stands (`layout.restorePlanProgress`), written at the end of every slice of a
 * plan that takes more than one: the listing of the target's keys, the source items examined, the counts, the
 * target folders found or made, and the plan's staged blocks and line offsets (a number per batch).
 */
export interface RestorePlanProgress {
  /** The last slice whose work this records. */
  slice: number;
  /** Present when the plan skips what the target already holds. */
  targetKeys?: TargetKeysProgress;
  /** Candidates of the source (items of the folders the filters name) examined so far. */
  examined: number;
  counts: PlanCounts;
  /** Source folder id → the target folder its items go to. */
  targetFolders: Record<string, string>;
  plan: IndexedNdjsonDraft;
  /** Set by the last slice once the plan is written: a retried last slice answers with it. */
  summary?: RestorePlanSummary;
}

interface PlanCounts {
  selected: number;
  toImport: number;
  skippedPresent: number;
  bytesToImport: number;
  foldersCreated: number;
}

export type RestorePlanStep = { nextSlice: number } | { summary: RestorePlanSummary };

/**
 * Plans a restore in one call, slice after slice (the activity of restores started before plans were sliced, and
 * tests). Returns counts only.
 */
export async function planRestore(
  graph: MailboxClient,
  vault: VaultStore,
  settings: RestorePlanSettings,
  request: RestoreRequest,
): Promise<RestorePlanSummary> {
  for (let slice = 0; ;) {
    const step = await planRestoreSlice(graph, vault, settings, request, slice);
    if ('summary' in step) return step.summary;
    slice = step.nextSlice;
  }
}

/**
 * One slice of a restore's plan: selects the snapshot's items, maps their folders onto the target (creating what
 * is missing under the destination), drops items the target already holds (same search key) when collisions are
 * `skip`, and appends import batches to the plan, until `sliceItems` items were worked through. With `skip`, the
 * target's keys are listed first (page by page, sorted into the vault), then compared slice by slice. A plan that
 * fits one slice writes no checkpoint; a larger one checkpoints after each slice and a retried slice resumes from
 * the one before, so time per activity does not grow with the restore, and memory only by the plan's line offsets
 * (a number per batch of up to 10 items, which its index holds too).
 */
export async function planRestoreSlice(
  graph: MailboxClient,
  vault: VaultStore,
  settings: RestorePlanSettings,
  request: RestoreRequest,
  slice: number,
): Promise<RestorePlanStep> {
  const { restoreId } = request;
  const saved = await vault.readJson<RestorePlanProgress>(layout.restorePlanProgress(restoreId));
  if (saved && saved.slice >= slice)
    return saved.summary && saved.slice === slice ? { summary: saved.summary } : { nextSlice: slice + 1 };
  if (slice > 0 && saved?.slice !== slice - 1)
    throw new Error(`The plan of restore ${restoreId} has no checkpoint of slice ${slice - 1} to resume from`);
  const source = await openSource(vault, request);
  const tree = new TargetTree(graph, request.target.mailboxId);
  await tree.load();
  const progress: RestorePlanProgress = saved
    ? { ...structuredClone(saved), slice }
    : {
        slice,
        ...(request.collisions === 'skip' ? { targetKeys: startTargetKeys(tree.ids) } : {}),
        examined: 0,
        counts: { selected: 0, toImport: 0, skippedPresent: 0, bytesToImport: 0, foldersCreated: 0 },
        targetFolders: {},
        plan: emptyIndexedNdjsonDraft(),
      };
  let budget = settings.sliceItems ?? DEFAULT_RESTORE_PLAN_SLICE_ITEMS;
  if (progress.targetKeys && !targetKeysListed(progress.targetKeys)) {
    const listed = await listTargetKeys(graph, request.target.mailboxId, progress.targetKeys, budget, {
      vault,
      prefix: `${layout.restorePlanKeys(restoreId)}${sliceLabel(slice)}-`,
      ...(settings.recordsInMemory ? { recordsInMemory: settings.recordsInMemory } : {}),
    });
    progress.targetKeys = listed.progress;
    budget -= listed.itemsRead;
  }
  const keysReady = !progress.targetKeys || targetKeysListed(progress.targetKeys);
  const selectionDone = keysReady && (await planSomeBatches(vault, settings, request, source, tree, progress, budget));
  progress.counts.foldersCreated += tree.created;
  if (!selectionDone) {
    await vault.writeJson(layout.restorePlanProgress(restoreId), progress);
    return { nextSlice: slice + 1 };
  }
  return { summary: await finishPlan(vault, request, progress) };
}

/** The snapshot's manifest and folders. */
async function openSource(
  vault: VaultStore,
  request: RestoreRequest,
): Promise<{ manifest: ManifestReader; folders: Map<string, ManifestFolder> }> {
  const snapshot = await vault.readJson<SnapshotRecord>(
    layout.snapshotRecord(request.source.mailboxId, request.source.snapshotId),
  );
  if (!snapshot) throw new Error(`Snapshot ${request.source.snapshotId} is no longer in the vault`);
  const manifest = await ManifestReader.open(vault, snapshot);
  const { folders } = await manifest.folders();
  return { manifest, folders: new Map(folders.map((folder) => [folder.id, folder])) };
}

/**
 * Selects up to `budget` candidates from where the plan stands, skips what the target holds, and appends their
 * batches to the plan (updating `progress`). Returns whether the candidates ran out.
 */
async function planSomeBatches(
  vault: VaultStore,
  settings: RestorePlanSettings,
  request: RestoreRequest,
  source: { manifest: ManifestReader; folders: Map<string, ManifestFolder> },
  tree: TargetTree,
  progress: RestorePlanProgress,
  budget: number,
): Promise<boolean> {
  const { counts, targetFolders } = progress;
  const selection = { examined: 0, exhausted: false };
  async function* selected(): AsyncGenerator<SelectedItem> {
    const from = { examined: progress.examined, budget };
    for await (const item of selectItems(source.manifest, source.folders, request, from, selection)) {
      counts.selected++;
      yield item;
    }
  }
  const candidates = progress.targetKeys
    ? withoutPresentItems(
        selected(),
        listedTargetKeys(vault, progress.targetKeys),
        {
          vault,
          prefix: `${layout.restorePlanSort(request.restoreId)}${sliceLabel(progress.slice)}-`,
          targetKeysSorted: true,
          ...(settings.recordsInMemory ? { recordsInMemory: settings.recordsInMemory } : {}),
          ...(settings.keysInMemory ? { keysInMemory: settings.keysInMemory } : {}),
        },
        () => counts.skippedPresent++,
      )
    : selected();
  const destinationRoot = destinationLevels(request);
  const writer = new IndexedNdjsonBlockWriter(vault, restorePlanFile(request.restoreId), progress.plan, progress.slice);
  const packed = packBySizeStream(candidates, settings.itemsPerBatch, settings.bytesPerBatch, (item) => item.length);
  for await (const items of packed) {
    const batch: PlannedImportBatch = { batch: writer.count, items: [] };
    for (const { folderId, ...item } of items) {
      targetFolders[folderId] ??= await tree.ensure([
        ...destinationRoot,
        ...sourceLevels(source.folders, folderId, request),
      ]);
      counts.toImport++;
      counts.bytesToImport += item.length;
      batch.items.push({ ...item, targetFolderId: targetFolders[folderId] });
    }
    await writer.add(batch);
  }
  progress.plan = await writer.close();
  progress.examined += selection.examined;
  return selection.exhausted;
}

/** Commits the plan's blocks and index; a plan of several slices records its summary and drops its key runs. */
async function finishPlan(
  vault: VaultStore,
  request: RestoreRequest,
  progress: RestorePlanProgress,
): Promise<RestorePlanSummary> {
  await finishIndexedNdjson(vault, restorePlanFile(request.restoreId), progress.plan);
  const { counts } = progress;
  const summary: RestorePlanSummary = {
    batchCount: progress.plan.offsets.length - 1,
    selected: counts.selected,
    toImport: counts.toImport,
    skippedPresent: counts.skippedPresent,
    bytesToImport: counts.bytesToImport,
    destinationRoot: destinationLevels(request)
      .map((level) => level.name)
      .join('/'),
    foldersCreated: counts.foldersCreated,
  };
  if (progress.slice > 0) {
    await vault.writeJson(layout.restorePlanProgress(request.restoreId), { ...progress, summary });
    for await (const name of vault.listNames(layout.restorePlanKeys(request.restoreId)))
      await vault.deleteIfExists(name);
  } else if (progress.targetKeys) await Promise.all(progress.targetKeys.runs.map((name) => vault.deleteIfExists(name)));
  return summary;
}

const sliceLabel = (slice: number) => `s${String(slice).padStart(6, '0')}`;

/** The restore's plan, as an indexed file of import batches. */
function restorePlanFile(restoreId: string): IndexedNdjsonFile {
  return {
    data: layout.restorePlan(restoreId),
    index: layout.restorePlanIndex(restoreId),
    description: `the plan of restore ${restoreId}`,
  };
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

/** The plan's batches `0 … batchCount - 1` in order, in one pass over the plan (the report goes through them all). */
export function readImportBatchesInOrder(
  vault: VaultStore,
  restoreId: string,
  batchCount: number,
): AsyncGenerator<PlannedImportBatch> {
  return new IndexedNdjsonReader(vault).readInOrder<PlannedImportBatch>(restorePlanFile(restoreId), 0, batchCount);
}
