import { folderPathText, type ItemMeta } from '../mailbox/index.js';
import { statusFrom } from '../status.js';
import { linkArchive } from '../vault/archiveLinks.js';
import { ExternalSorter, mergeSorted } from '../vault/externalSort.js';
import { keyOf, layout } from '../vault/layout.js';
import { ManifestReader } from '../vault/manifestReader.js';
import { writeManifest } from '../vault/manifestWriter.js';
import { releaseClaim, runIsDone, withMailboxLease, type HeldMailbox } from '../vault/mailboxOwner.js';
import type { DeltaState, ManifestFolder, ManifestItem, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { compareCoverage, coverageProblems, type FolderCount } from './coverageReport.js';
import type { NextDeltaState } from './plan.js';
import { windowedMap } from '../windowedMap.js';
import {
  changeKey,
  itemKey,
  joinedChanges,
  sortedOutcomes,
  type ItemChange,
  type ItemChangeRecord,
} from './itemChanges.js';
import type { ChangeRecord, ItemFailure, ItemResult, MailboxRunResult, StoredRef } from './types.js';

export interface CommitInput {
  runId: string;
  mailboxId: string;
  upn: string;
  /** An in-place archive: the primary mailbox it belongs to (recorded with the snapshot, and linked from it). */
  archiveOf?: string;
  snapshotId: string;
  /** The point in time the snapshot stands for. */
  takenAt: string;
  startedAt: string;
  /** The plan whose batches this commit takes (results of a replaced plan are ignored). */
  planVersion: string;
  /** Batches whose activity failed outright (after its retries): their items have no stored outcome. */
  failedBatches?: Array<{ batch: number; reason: string }>;
  /** Batches in the plan; their results are read by name. Absent (an orchestration started by an older version): listed. */
  batchCount?: number;
}

/** Stored versions looked up at once when the commit re-checks them (see withVanished). */
const PARALLEL_VERSION_CHECKS = 16;

/** Tuning of the commit's external sorts (tests make the budget small to exercise the merge). */
export interface CommitOptions {
  /** Records each sort holds in memory before it writes a sorted run to the vault. */
  recordsInMemory?: number;
}

/** What the run's export batches stored: only throttling totals stay in memory; outcomes are sorted to the vault. */
interface ThrottleTotals {
  throttledResponses: number;
  throttleWaitInMs: number;
}

/** The run's change list, as planning wrote it: per-folder facts in memory, item records in a sorter. */
interface ChangeList {
  folders: Map<string, ManifestFolder>;
  resynced: Set<string>;
  items: ExternalSorter<ItemChangeRecord>;
  failedFolders: Array<{ folderId: string; reason: string }>;
  enumeratedFolders: Array<{ folderId: string; reason: string }>;
  metadataGaps: Array<{ folderId: string; items: number; reason: string }>;
  folderCounts: Map<string, FolderCount>;
  notCompared: Array<{ folderId: string; reason: string }>;
  coverageUnchecked?: string;
}

/** What writing the manifest counted. */
interface ManifestTally {
  itemCount: number;
  totalBytes: number;
  exported: number;
  alreadyStored: number;
  bytesExported: number;
  failures: ItemFailure[];
  foldersWithFailures: Set<string>;
  inFolder: Map<string, number>;
  /** New items that failed with no older version kept, per folder: missing from the snapshot. */
  missingFailedIn: Map<string, number>;
  /** Items whose new version failed while the older one stays (stale). */
  keptStale: Set<string>;
  /** Items the change list removed, and new or changed versions it listed. */
  removed: number;
  changed: number;
}

/**
 * Commits the run's snapshot holding the mailbox's lease (mailboxOwner.ts), then gives up the run's claim. A
 * run that does not own the mailbox may not commit to it: it would build on, or move delta.json behind, the
 * owner's snapshot.
 */
export async function commitSnapshot(
  vault: VaultStore,
  input: CommitInput,
  now: () => Date = () => new Date(),
  options: CommitOptions = {},
): Promise<MailboxRunResult> {
  const mailboxKey = keyOf(input.mailboxId);
  return withMailboxLease(vault, mailboxKey, async (held) => {
    const { holder, prunes } = await held.read();
    if (holder && holder.runId !== input.runId && !(await runIsDone(vault, holder.runId, mailboxKey)))
      throw new Error(`Backup ${holder.runId} owns this mailbox; ${input.runId} may not commit to it`);
    // A sweep since the claim may have taken versions this run counts on (inFlight.ts): look before using them.
    // Without its claim (an orchestration from before claims, a freed owner record) the run cannot tell: look.
    const recheck = holder?.runId === input.runId ? prunes !== holder.prunesAtClaim : true;
    const result = await commitOwned(vault, input, held, recheck, now, options);
    await releaseClaim(held, input.runId);
    return result;
  });
}

/**
 * Builds the snapshot: the previous manifest, plus new and changed versions, minus removals and items of
 * folders that are gone, written as a new manifest with its index; then the snapshot record, last, as the
 * commit. Every stream is merged in (folder, item id) order, items sorted through the vault where needed, so
 * memory does not grow with the mailbox. Delta links advance only for folders whose every planned item was
 * stored. Idempotent: once the record exists, a retry rebuilds only the tally from the same previous snapshot
 * and never rewrites the committed manifest.
 */
async function commitOwned(
  vault: VaultStore,
  input: CommitInput,
  held: HeldMailbox,
  recheck: boolean,
  now: () => Date,
  options: CommitOptions,
): Promise<MailboxRunResult> {
  const { runId, mailboxId, snapshotId } = input;
  const committed = await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, snapshotId));
  const existingResult = await vault.readJson<MailboxRunResult>(layout.runMailboxResult(runId, mailboxId));
  if (existingResult && committed) return existingResult;

  const state = await vault.readJson<DeltaState>(layout.deltaState(mailboxId));
  const previousId = committed ? committed.previousSnapshotId : state?.lastSnapshotId;
  const previous = previousId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, previousId))
    : undefined;
  // A run whose claim was taken over (its orchestration ended) must not commit behind the newer snapshot.
  if (!committed && previous && previous.takenAt > input.takenAt)
    throw new Error(`Snapshot ${previous.snapshotId} is newer than this run's; ${runId} does not commit behind it`);
  const sort = { vault, ...(options.recordsInMemory ? { recordsInMemory: options.recordsInMemory } : {}) };
  const changes = await readChangeList(vault, runId, mailboxId, sort);
  const outcomes = await sortedOutcomes(vault, input, sort);
  const carried = previous ? await previousItemsInKeyOrder(vault, previous, input, sort) : undefined;
  try {
    const tally = emptyTally();
    const itemChanges = withVanished(vault, joinedChanges(changes.items.sorted(), outcomes.sorter.sorted()), recheck);
    const batchFailure = input.failedBatches?.[0]?.reason;
    const items = manifestItems(itemChanges, carried?.items, changes, tally, batchFailure);
    const manifestBlob = layout.manifest(mailboxId, snapshotId);
    const manifestIndexBlob = layout.manifestIndex(mailboxId, snapshotId);
    const written = committed
      ? await tallyOnly(items, committed.manifestSha256)
      : await writeManifest(vault, manifestBlob, [...changes.folders.values()], items);
    if ('index' in written) await vault.writeJson(manifestIndexBlob, written.index);
    const { summary: coverage, problemFolderIds } = compareCoverage(
      {
        counts: changes.folderCounts,
        inSnapshot: tally.inFolder,
        failed: tally.missingFailedIn,
        pathOf: (folderId) => folderPathText(changes.folders.get(folderId)?.path ?? []),
        failedFolders: new Set(changes.failedFolders.map((f) => f.folderId)),
      },
      changes.coverageUnchecked,
      changes.notCompared,
    );
    const record: SnapshotRecord = {
      snapshotId,
      mailboxId,
      upn: input.upn,
      ...(input.archiveOf ? { archiveOf: input.archiveOf } : {}),
      runId,
      takenAt: input.takenAt,
      committedAt: now().toISOString(),
      status: statusFrom(tally.failures.length + changes.failedFolders.length + coverageProblems(coverage)),
      folderCount: changes.folders.size,
      itemCount: tally.itemCount,
      totalBytes: tally.totalBytes,
      manifestBlob,
      manifestSha256: written.sha256,
      manifestIndexBlob,
      previousSnapshotId: previous?.snapshotId ?? null,
      failedItemCount: tally.failures.length,
    };
    held.assertHeld();
    if (!committed) await vault.writeJson(layout.snapshotRecord(mailboxId, snapshotId), record, { onlyIfAbsent: true });
    if (input.archiveOf) await linkArchive(vault, input.archiveOf, mailboxId);
    await advanceDeltaState(vault, input, state, changes, tally, problemFolderIds, now);

    const result = { ...mailboxRunResult(input, committed ?? record, changes, outcomes, tally, now()), coverage };
    await vault.writeJson(layout.runMailboxResult(runId, mailboxId), result);
    return result;
  } finally {
    await Promise.all([changes.items.discard(), outcomes.sorter.discard(), carried?.discard()]);
  }
}

function emptyTally(): ManifestTally {
  return {
    itemCount: 0,
    totalBytes: 0,
    exported: 0,
    alreadyStored: 0,
    bytesExported: 0,
    failures: [],
    foldersWithFailures: new Set(),
    inFolder: new Map(),
    missingFailedIn: new Map(),
    keptStale: new Set(),
    removed: 0,
    changed: 0,
  };
}

/**
 * The change list's per-folder facts, with its item records handed to an external sort: the list is in folder
 * order as planning read the folders, the merge needs (folder, id) order.
 */
async function readChangeList(
  vault: VaultStore,
  runId: string,
  mailboxId: string,
  sort: { vault: VaultStore; recordsInMemory?: number },
): Promise<ChangeList> {
  const changes: ChangeList = {
    folders: new Map(),
    resynced: new Set(),
    items: new ExternalSorter<ItemChangeRecord>(
      { ...sort, prefix: layout.runCommitSort(runId, mailboxId, 'changes') },
      changeKey,
    ),
    failedFolders: [],
    enumeratedFolders: [],
    metadataGaps: [],
    folderCounts: new Map(),
    notCompared: [],
  };
  for await (const record of vault.readNdjsonGz<ChangeRecord>(layout.runChanges(runId, mailboxId))) {
    switch (record.kind) {
      case 'folder':
        changes.folders.set(record.id, record);
        break;
      case 'resync':
        changes.resynced.add(record.folderId);
        break;
      case 'upsert':
      case 'remove':
        await changes.items.add(record);
        break;
      case 'folderFailed':
        changes.failedFolders.push({ folderId: record.folderId, reason: record.reason });
        break;
      case 'folderEnumerated':
        changes.enumeratedFolders.push({ folderId: record.folderId, reason: record.reason });
        break;
      case 'metadataGap':
        changes.metadataGaps.push(record);
        break;
      case 'folderCount': {
        const { exchangeCount, missedByDelta, arrivedDuringRun } = record;
        changes.folderCounts.set(record.folderId, { exchangeCount, missedByDelta, arrivedDuringRun });
        break;
      }
      case 'coverageUnchecked':
        changes.coverageUnchecked = record.reason;
        break;
      case 'folderNotCompared':
        changes.notCompared.push(record);
        break;
    }
  }
  return changes;
}

/**
 * The previous snapshot's items in (folder, id) order: an indexed manifest is written in that order; one
 * committed before indexes is sorted through the vault once, by the commit that follows it.
 */
async function previousItemsInKeyOrder(
  vault: VaultStore,
  previous: SnapshotRecord,
  input: CommitInput,
  sort: { vault: VaultStore; recordsInMemory?: number },
): Promise<{ items: AsyncIterable<ManifestItem>; discard: () => Promise<void> }> {
  const manifest = await ManifestReader.open(vault, previous);
  async function* items(): AsyncGenerator<ManifestItem> {
    for await (const entry of manifest.entries()) if (entry.kind === 'item') yield entry;
  }
  if (manifest.indexed) return { items: items(), discard: async () => {} };
  const prefix = layout.runCommitSort(input.runId, input.mailboxId, 'previous');
  const sorter = new ExternalSorter<ManifestItem>({ ...sort, prefix }, (item) => itemKey(item.folderId, item.id));
  for await (const item of items()) await sorter.add(item);
  return { items: sorter.sorted(), discard: () => sorter.discard() };
}

/** An item change, marked when the version it would reference is no longer in the vault. */
type CheckedChange = ItemChange & { vanished?: true };

/**
 * With `recheck` (a sweep ran since the claim), looks up each version this run would reference, stored or
 * reused: one a sweep took is not referenced (the item is exported again next run).
 */
function withVanished(
  vault: VaultStore,
  changes: AsyncIterable<ItemChange>,
  recheck: boolean,
): AsyncIterable<CheckedChange> {
  if (!recheck) return changes;
  return windowedMap(changes, PARALLEL_VERSION_CHECKS, async (change): Promise<CheckedChange> => {
    const { upsert, outcome } = change;
    if (!upsert) return change;
    const blob = upsert.known?.blob ?? (outcome?.ok ? outcome.blob : undefined);
    if (blob && !(await vault.getItemVersion(blob))) return { ...change, vanished: true };
    return change;
  });
}

/** Why a listed new version is not stored, or undefined when it is (or needed no export). */
function failureOf(
  change: CheckedChange,
  batchFailure: string | undefined,
): { code: string; message: string } | undefined {
  if (change.vanished)
    return {
      code: 'VersionPruned',
      message: 'its stored version was pruned before the commit; exported again next run',
    };
  const { upsert, outcome } = change;
  if (!upsert || upsert.known) return undefined;
  if (outcome?.ok) return undefined;
  if (outcome) return { code: outcome.code, message: outcome.message };
  return {
    code: 'NotExported',
    message: batchFailure ? `its export activity failed: ${batchFailure}` : 'no outcome was recorded for it',
  };
}

function manifestItem(meta: ItemMeta, stored: StoredRef): ManifestItem {
  return { kind: 'item', ...meta, blob: stored.blob, sha256: stored.sha256, length: stored.length };
}

/**
 * The new snapshot's items in (folder, id) order: the previous snapshot's items merged with this run's changes.
 * A previous item stays unless removed, re-listed in a resynced folder, or replaced by a stored newer version
 * (kept, marked stale, when the newer version failed); items of folders that are gone go.
 */
async function* manifestItems(
  itemChanges: AsyncIterable<CheckedChange>,
  previous: AsyncIterable<ManifestItem> | undefined,
  changes: ChangeList,
  tally: ManifestTally,
  batchFailure: string | undefined,
): AsyncGenerator<ManifestItem> {
  const counted = (item: ManifestItem) => {
    tally.itemCount++;
    tally.totalBytes += item.length;
    tally.inFolder.set(item.folderId, (tally.inFolder.get(item.folderId) ?? 0) + 1);
    return item;
  };
  type Side = { previous: ManifestItem } | { change: CheckedChange };
  const keyOfSide = (side: Side) =>
    'previous' in side ? itemKey(side.previous.folderId, side.previous.id) : side.change.key;
  const sides = mergeSorted<Side>(
    [tagged(previous ?? [], (item) => ({ previous: item })), tagged(itemChanges, (change) => ({ change }))],
    keyOfSide,
  );
  let held: Side | undefined;
  for await (const side of sides) {
    // Each key has at most one previous item and one change, the previous first (earlier stream).
    if (held && 'previous' in held && 'change' in side && keyOfSide(held) === side.change.key) {
      yield* resolved(held.previous, side.change);
      held = undefined;
      continue;
    }
    if (held)
      yield* resolved('previous' in held ? held.previous : undefined, 'change' in held ? held.change : undefined);
    held = side;
  }
  if (held) yield* resolved('previous' in held ? held.previous : undefined, 'change' in held ? held.change : undefined);

  function* resolved(before: ManifestItem | undefined, change: CheckedChange | undefined): Generator<ManifestItem> {
    if (change?.removed) tally.removed++;
    if (change?.upsert && !change.upsert.known) tally.changed++;
    const folderId = before?.folderId ?? change!.folderId;
    if (!changes.folders.has(folderId)) return;
    if (!change) {
      if (!changes.resynced.has(folderId)) yield counted(before!); // a resynced folder re-listed what is there
      return;
    }
    if (!change.upsert) return; // removed
    const failure = failureOf(change, batchFailure);
    if (!failure) {
      yield counted(manifestItem(change.upsert.meta, change.upsert.known ?? storedOutcome(change.outcome, tally)!));
      return;
    }
    // A newer version was listed and could not be stored: the older one stays, marked stale.
    if (before) {
      tally.keptStale.add(before.id);
      yield counted({ ...before, stale: true });
    }
    recordFailure(tally, change.upsert.meta, failure, changes);
  }
}

async function* tagged<T, U>(source: AsyncIterable<T> | Iterable<T>, wrap: (record: T) => U): AsyncGenerator<U> {
  for await (const record of source) yield wrap(record);
}

/** Drains the items for their tally only: the committed manifest stays as it is. */
async function tallyOnly(items: AsyncIterable<ManifestItem>, sha256: string): Promise<{ sha256: string }> {
  for await (const item of items) void item;
  return { sha256 };
}

/** A version this run stored, counted as exported. */
function storedOutcome(outcome: ItemResult | undefined, tally: ManifestTally): StoredRef | undefined {
  if (!outcome?.ok) return undefined;
  tally.exported++;
  if (!outcome.written) tally.alreadyStored++;
  tally.bytesExported += outcome.length;
  return outcome;
}

function recordFailure(
  tally: ManifestTally,
  meta: ItemMeta,
  failure: { code: string; message: string },
  changes: ChangeList,
): void {
  tally.foldersWithFailures.add(meta.folderId);
  if (!tally.keptStale.has(meta.id))
    tally.missingFailedIn.set(meta.folderId, (tally.missingFailedIn.get(meta.folderId) ?? 0) + 1);
  tally.failures.push({
    itemId: meta.id,
    folderPath: folderPathText(changes.folders.get(meta.folderId)?.path ?? []),
    ...(meta.subject ? { subject: meta.subject } : {}),
    ...failure,
  });
}

/**
 * Moves the delta base on: per folder, only where everything planned is stored. A folder whose coverage check
 * failed loses its link, so that the next run reads it in full.
 */
async function advanceDeltaState(
  vault: VaultStore,
  input: CommitInput,
  state: DeltaState | undefined,
  changes: ChangeList,
  tally: ManifestTally,
  readInFull: Set<string>,
  now: () => Date,
): Promise<void> {
  // Never move the base back: not to this run's own state again, nor behind a newer committed snapshot.
  if (state?.lastSnapshotId === input.snapshotId) return;
  const last = state?.lastSnapshotId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(input.mailboxId, state.lastSnapshotId))
    : undefined;
  if (last && last.takenAt > input.takenAt) return;
  const next = await vault.readJson<NextDeltaState>(layout.runNextDelta(input.runId, input.mailboxId));
  const itemDeltaLinks: Record<string, string> = {};
  for (const folderId of changes.folders.keys()) {
    if (readInFull.has(folderId)) continue;
    const failed = tally.foldersWithFailures.has(folderId);
    const link = failed ? state?.itemDeltaLinks[folderId] : next?.itemDeltaLinks[folderId];
    if (link) itemDeltaLinks[folderId] = link;
  }
  const newState: DeltaState = { itemDeltaLinks, lastSnapshotId: input.snapshotId, updatedAt: now().toISOString() };
  if (next?.folderDeltaLink) newState.folderDeltaLink = next.folderDeltaLink;
  await vault.writeJson(layout.deltaState(input.mailboxId), newState);
}

function mailboxRunResult(
  input: CommitInput,
  record: SnapshotRecord,
  changes: ChangeList,
  throttle: ThrottleTotals,
  tally: ManifestTally,
  finishedAt: Date,
): MailboxRunResult {
  return {
    upn: input.upn,
    mailboxId: input.mailboxId,
    ...(input.archiveOf ? { archiveOf: input.archiveOf } : {}),
    status: record.status,
    snapshotId: input.snapshotId,
    startedAt: input.startedAt,
    finishedAt: finishedAt.toISOString(),
    durationInMs: finishedAt.getTime() - Date.parse(input.startedAt),
    items: {
      inSnapshot: tally.itemCount,
      exported: tally.exported,
      alreadyStored: tally.alreadyStored,
      failed: tally.failures.length,
      removed: tally.removed,
      changed: tally.changed,
    },
    bytesExported: tally.bytesExported,
    throttling: { responses: throttle.throttledResponses, waitInMs: throttle.throttleWaitInMs },
    failedFolders: changes.failedFolders.map((f) => folderNote(changes, f)),
    enumeratedFolders: changes.enumeratedFolders.map((f) => folderNote(changes, f)),
    itemsWithoutSearchKey: changes.metadataGaps.map((gap) => ({ ...folderNote(changes, gap), items: gap.items })),
    failures: tally.failures,
  };
}

function folderNote(changes: ChangeList, note: { folderId: string; reason: string }) {
  return { folderPath: folderPathText(changes.folders.get(note.folderId)?.path ?? []), reason: note.reason };
}
