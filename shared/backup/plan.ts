import { randomUUID } from 'node:crypto';
import { DeltaLinkRejectedError, type DeltaPage, type MailboxClient, type MailboxFolder } from '../graph/index.js';
import { readAhead, type ReadAhead } from '../readAhead.js';
import { layout } from '../vault/layout.js';
import type { DeltaState, ManifestEntry, ManifestFolder, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { BACKUP_EXTENDED_PROPERTIES, itemMetaOf } from './itemMeta.js';
import type { ChangeRecord, PlanSummary, PlannedBatch, PlannedItem, StoredRef } from './types.js';

/**
 * Folders whose item delta rounds run at once, each read up to PAGES_READ_AHEAD pages ahead of the folder being
 * written (memory: a few pages per folder). The mailbox limiter keeps Graph's 4 requests in flight either way.
 */
const FOLDER_ROUNDS_AT_ONCE = 4;
const PAGES_READ_AHEAD = 2;

type ListedItem = Parameters<typeof itemMetaOf>[0];

export interface PlanSettings {
  /** Graph's ceiling. */
  maxItemsPerBatch: number;
  /** Budget of reported size per batch; exported streams can be far larger than `size`, so keep it well below what one response should carry. */
  batchReportedBytes: number;
}

export interface PlanInput {
  runId: string;
  mailboxId: string;
  upn: string;
}

/** What the next commit writes to state/delta.json if all goes well. */
export interface NextDeltaState {
  folderDeltaLink?: string;
  itemDeltaLinks: Record<string, string>;
}

/** Path of every folder from the root down; a folder whose parent is unknown is a top (or the root itself). */
export function folderPaths(
  folders: Map<string, Pick<ManifestFolder, 'id' | 'parentId' | 'displayName' | 'wellKnownName'>>,
): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  const pathOf = (id: string, depth = 0): string[] => {
    const known = paths.get(id);
    if (known) return known;
    const folder = folders.get(id)!;
    const isRoot =
      folder.wellKnownName === 'msgfolderroot' || (folder.displayName === '' && !folders.has(folder.parentId ?? ''));
    const parent =
      folder.parentId && folders.has(folder.parentId) && depth < 256 ? pathOf(folder.parentId, depth + 1) : [];
    const path = isRoot ? [] : [...parent, folder.displayName];
    paths.set(id, path);
    return path;
  };
  for (const id of folders.keys()) pathOf(id);
  return paths;
}

function toManifestFolder(folder: MailboxFolder): Omit<ManifestFolder, 'path'> {
  return {
    kind: 'folder',
    id: folder.id,
    parentId: folder.parentFolderId ?? null,
    displayName: folder.displayName ?? '',
    type: folder.type ?? 'IPF.Note',
    wellKnownName: folder.wellKnownName ?? null,
  };
}

/** Packs items into batches of at most N ids and a reported-size budget; an item over the budget goes alone. */
export function packBatches(items: PlannedItem[], settings: PlanSettings): PlannedItem[][] {
  return packBySize(items, settings.maxItemsPerBatch, settings.batchReportedBytes, (item) => item.size);
}

/** Consecutive batches of at most `maxItems` and `maxBytes` (by `sizeOf`); an item over the budget goes alone. */
export function packBySize<T>(items: T[], maxItems: number, maxBytes: number, sizeOf: (item: T) => number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length >= maxItems || bytes + sizeOf(item) > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += sizeOf(item);
  }
  if (current.length) batches.push(current);
  return batches;
}

/**
 * Plans one mailbox's run: folder delta, then item delta per folder from the stored links (a full enumeration
 * where there is none or Graph rejects it), compared with the last snapshot so that only new or changed
 * versions are exported. Writes the change list, the batches and the next delta links to the run's folder,
 * and returns counts only.
 */
export async function planMailbox(
  client: MailboxClient,
  vault: VaultStore,
  settings: PlanSettings,
  input: PlanInput,
): Promise<PlanSummary> {
  const { runId, mailboxId } = input;
  const state = await vault.readJson<DeltaState>(layout.deltaState(mailboxId));
  const previous = state?.lastSnapshotId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, state.lastSnapshotId))
    : undefined;
  // Links without a committed snapshot behind them (an interrupted first run) are not a base to build on.
  const usable = previous ? state : undefined;

  const previousFolders = new Map<string, ManifestFolder>();
  const previousItems = new Map<string, StoredRef & { changeKey: string }>();
  if (previous) {
    for await (const entry of vault.readNdjsonGz<ManifestEntry>(previous.manifestBlob)) {
      if (entry.kind === 'folder') previousFolders.set(entry.id, entry);
      else
        previousItems.set(entry.id, {
          changeKey: entry.changeKey,
          blob: entry.blob,
          sha256: entry.sha256,
          length: entry.length,
        });
    }
  }

  // Folder hierarchy.
  const folders = new Map<string, Omit<ManifestFolder, 'path'>>();
  let folderDeltaLink: string | undefined;
  const readFolders = async (deltaLink: string | undefined) => {
    for await (const page of client.listFolderChanges(mailboxId, deltaLink ? { deltaLink } : {})) {
      for (const folder of page.changed) folders.set(folder.id, toManifestFolder(folder));
      for (const removed of page.removed) folders.delete(removed.id);
      if (page.deltaLink) folderDeltaLink = page.deltaLink;
    }
  };
  let fullFolderEnumeration = !usable?.folderDeltaLink;
  if (usable?.folderDeltaLink) {
    for (const [id, folder] of previousFolders) folders.set(id, folder);
    try {
      await readFolders(usable.folderDeltaLink);
    } catch (error) {
      if (!(error instanceof DeltaLinkRejectedError)) throw error;
      folders.clear();
      fullFolderEnumeration = true;
      await readFolders(undefined);
    }
  } else await readFolders(undefined);
  const paths = folderPaths(folders);

  const toExport: PlannedItem[] = [];
  const nextLinks: Record<string, string> = {};
  let changedItems = 0;
  let removedItems = 0;
  let failedFolders = 0;
  let anyFull = fullFolderEnumeration;

  const folderIds = [...folders.keys()];
  const storedLinkOf = (folderId: string) =>
    previousFolders.has(folderId) ? usable?.itemDeltaLinks[folderId] : undefined;
  const round = (folderId: string, deltaLink: string | undefined) =>
    client.listItemChanges(mailboxId, folderId, { deltaLink, extendedProperties: BACKUP_EXTENDED_PROPERTIES });

  async function* changes(): AsyncGenerator<ChangeRecord> {
    // The next folders' rounds start while one folder is read: a round is sequential, page after page, so one
    // folder at a time would make planning a mailbox of many folders a long row of round trips.
    const rounds = new Map<string, ReadAhead<DeltaPage<ListedItem>>>();
    const startRounds = (from: number) => {
      for (const folderId of folderIds.slice(from, from + FOLDER_ROUNDS_AT_ONCE)) {
        if (!rounds.has(folderId))
          rounds.set(folderId, readAhead(round(folderId, storedLinkOf(folderId)), PAGES_READ_AHEAD));
      }
    };
    try {
      startRounds(0);
      for (const [id, folder] of folders) yield { ...folder, path: paths.get(id) ?? [folder.displayName] };
      for (const [index, folderId] of folderIds.entries()) {
        startRounds(index);
        const storedLink = storedLinkOf(folderId);
        const firstRound = rounds.get(folderId)!;
        rounds.delete(folderId);
        // A folder's records are kept until its round is complete: a round that fails or must start over
        // (its link rejected) leaves nothing behind.
        const records: ChangeRecord[] = [];
        let link: string | undefined;
        let full = storedLink === undefined;
        try {
          try {
            for await (const page of firstRound) {
              records.push(...pageRecords(page, folderId));
              link = page.deltaLink ?? link;
            }
          } catch (error) {
            if (!(error instanceof DeltaLinkRejectedError) || storedLink === undefined) throw error;
            records.length = 0;
            full = true;
            for await (const page of round(folderId, undefined)) {
              records.push(...pageRecords(page, folderId));
              link = page.deltaLink ?? link;
            }
          }
        } catch (error) {
          // One folder that cannot be read does not sink the mailbox: its previous items carry over.
          failedFolders++;
          if (storedLink) nextLinks[folderId] = storedLink;
          yield { kind: 'folderFailed', folderId, reason: (error as Error).message };
          continue;
        }
        if (full) {
          anyFull = true;
          yield { kind: 'resync', folderId };
        }
        for (const record of records) {
          if (record.kind === 'upsert' && !record.known) {
            changedItems++;
            toExport.push({ id: record.item.id, folderId, changeKey: record.item.changeKey, size: record.item.size });
          } else if (record.kind === 'remove') removedItems++;
          yield record;
        }
        if (link) nextLinks[folderId] = link;
      }
    } finally {
      // Planning stopped early (a failed write): rounds read ahead are ended, not left waiting.
      await Promise.all([...rounds.values()].map((pending) => pending.close()));
    }
  }

  /** A page's records, compared with the last snapshot: an item whose changeKey is stored needs no export. */
  function pageRecords(page: DeltaPage<ListedItem>, folderId: string): ChangeRecord[] {
    const out: ChangeRecord[] = [];
    for (const listed of page.changed) {
      const meta = itemMetaOf(listed, folderId);
      const stored = previousItems.get(meta.id);
      out.push(
        stored && stored.changeKey === meta.changeKey
          ? { kind: 'upsert', item: meta, known: { blob: stored.blob, sha256: stored.sha256, length: stored.length } }
          : { kind: 'upsert', item: meta },
      );
    }
    for (const removed of page.removed) out.push({ kind: 'remove', id: removed.id, folderId });
    return out;
  }

  await vault.writeNdjsonGz(layout.runChanges(runId, mailboxId), changes());

  const batches = packBatches(toExport, settings);
  const lines: string[] = [];
  const offsets: number[] = [];
  let offset = 0;
  batches.forEach((items, batch) => {
    const line = `${JSON.stringify({ batch, items } satisfies PlannedBatch)}\n`;
    offsets.push(offset);
    offset += Buffer.byteLength(line);
    lines.push(line);
  });
  offsets.push(offset);
  await vault.writeText(layout.runPlan(runId, mailboxId), lines.join(''));
  // A plan written again (a retried planning, a re-run of the same run id) gets a new version, so that no
  // process can read batches of one plan through the index of another.
  const planVersion = randomUUID();
  await vault.writeJson(layout.runPlanIndex(runId, mailboxId), { planVersion, offsets });
  await vault.writeJson(layout.runNextDelta(runId, mailboxId), {
    folderDeltaLink,
    itemDeltaLinks: nextLinks,
  } satisfies NextDeltaState);

  return {
    planVersion,
    batchCount: batches.length,
    itemsToExport: toExport.length,
    reportedBytesToExport: toExport.reduce((sum, item) => sum + item.size, 0),
    changedItems,
    removedItems,
    folders: folders.size,
    failedFolders,
    fullEnumeration: anyFull,
  };
}

/** Plan indexes this process has read (a plan does not change once its batches run); small and bounded. */
const planIndexes = new Map<string, number[]>();

/**
 * Consecutive planned batches `first … first + count - 1`, read with one ranged request (the plan's index, read
 * once per process, holds the line offsets).
 */
export async function readPlannedBatches(
  vault: VaultStore,
  runId: string,
  mailboxId: string,
  first: number,
  count: number,
  planVersion: string,
): Promise<PlannedBatch[]> {
  const key = `${vault.container.containerName}/${layout.runPlanIndex(runId, mailboxId)}/${planVersion}`;
  let offsets = planIndexes.get(key);
  if (!offsets) {
    const index = await vault.readJson<{ planVersion: string; offsets: number[] }>(
      layout.runPlanIndex(runId, mailboxId),
    );
    if (index?.planVersion !== planVersion)
      throw new Error(
        `The plan of run ${runId} was replaced (version ${index?.planVersion ?? 'none'}, expected ${planVersion})`,
      );
    offsets = index.offsets;
    if (planIndexes.size >= 200) planIndexes.delete(planIndexes.keys().next().value!);
    planIndexes.set(key, offsets);
  }
  const start = offsets[first];
  const end = offsets[first + count];
  if (start === undefined || end === undefined || count < 1)
    throw new Error(`Batches ${first}–${first + count - 1} are not in the plan of run ${runId}`);
  const text = (await vault.readRange(layout.runPlan(runId, mailboxId), start, end - start)).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as PlannedBatch);
}
