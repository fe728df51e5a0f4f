import { folderPathText, type ItemMeta } from '../mailbox/index.js';
import { mergeSorted } from '../vault/externalSort.js';
import type { ManifestFolder, ManifestItem } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { windowedMap } from '../windowedMap.js';
import type { FolderCount } from './coverageReport.js';
import { itemKey, type ItemChange } from './itemChanges.js';
import type { ItemFailure, ItemResult, StoredRef } from './types.js';

/** Stored versions looked up at once when the commit re-checks them (see withVanished). */
const PARALLEL_VERSION_CHECKS = 16;

/** The run's change list apart from its item records: per-folder facts, small whatever the mailbox's size. */
export interface ChangeFacts {
  folders: Map<string, ManifestFolder>;
  resynced: Set<string>;
  failedFolders: Array<{ folderId: string; reason: string }>;
  enumeratedFolders: Array<{ folderId: string; reason: string }>;
  metadataGaps: Array<{ folderId: string; items: number; reason: string }>;
  folderCounts: Map<string, FolderCount>;
  notCompared: Array<{ folderId: string; reason: string }>;
  coverageUnchecked?: string;
}

/** What writing the manifest counted. */
export interface ManifestTally {
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
  /** Items the change list removed, and new or changed versions it listed. */
  removed: number;
  changed: number;
}

export function emptyTally(): ManifestTally {
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
    removed: 0,
    changed: 0,
  };
}

/** An item change, marked when the version it would reference is no longer in the vault. */
type CheckedChange = ItemChange & { vanished?: true };

/**
 * With `recheck` (a sweep ran since the claim), looks up each version this run would reference, stored or
 * reused: one a sweep took is not referenced (the item is exported again next run).
 */
export function withVanished(
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

/** One key of the merge, resolved: the item the new snapshot holds under it, if any. */
export interface ResolvedKey {
  key: string;
  item?: ManifestItem;
}

/**
 * The new snapshot's keys in (folder, id) order: the previous snapshot's items merged with this run's changes.
 * A previous item stays unless removed, re-listed in a resynced folder, or replaced by a stored newer version
 * (kept, marked stale, when the newer version failed); items of folders that are gone go. The tally counts each
 * key before it is yielded, so a consumer that stops after a key has the tally of every key up to it.
 */
export async function* resolvedKeys(
  itemChanges: AsyncIterable<CheckedChange>,
  previous: AsyncIterable<ManifestItem> | undefined,
  facts: ChangeFacts,
  tally: ManifestTally,
  batchFailure: string | undefined,
): AsyncGenerator<ResolvedKey> {
  type Side = { previous: ManifestItem } | { change: CheckedChange };
  const keyOfSide = (side: Side) =>
    'previous' in side ? itemKey(side.previous.folderId, side.previous.id) : side.change.key;
  const sides = mergeSorted<Side>(
    [tagged(previous ?? [], (item) => ({ previous: item })), tagged(itemChanges, (change) => ({ change }))],
    keyOfSide,
  );
  const resolve = (key: string, before: ManifestItem | undefined, change: CheckedChange | undefined) => {
    const item = resolved(before, change, facts, tally, batchFailure);
    return item ? { key, item } : { key };
  };
  let held: Side | undefined;
  for await (const side of sides) {
    // Each key has at most one previous item and one change, the previous first (earlier stream).
    if (held && 'previous' in held && 'change' in side && keyOfSide(held) === side.change.key) {
      yield resolve(side.change.key, held.previous, side.change);
      held = undefined;
      continue;
    }
    if (held) yield resolve(keyOfSide(held), 'previous' in held ? held.previous : undefined, changeOf(held));
    held = side;
  }
  if (held) yield resolve(keyOfSide(held), 'previous' in held ? held.previous : undefined, changeOf(held));
}

function changeOf(side: { previous: ManifestItem } | { change: CheckedChange }): CheckedChange | undefined {
  return 'change' in side ? side.change : undefined;
}

/** What the new snapshot holds for one key (counted in the tally), or nothing. */
function resolved(
  before: ManifestItem | undefined,
  change: CheckedChange | undefined,
  facts: ChangeFacts,
  tally: ManifestTally,
  batchFailure: string | undefined,
): ManifestItem | undefined {
  if (change?.removed) tally.removed++;
  if (change?.upsert && !change.upsert.known) tally.changed++;
  const folderId = before?.folderId ?? change!.folderId;
  if (!facts.folders.has(folderId)) return undefined;
  if (!change) return facts.resynced.has(folderId) ? undefined : counted(tally, before!); // a resync re-listed it
  if (!change.upsert) return undefined; // removed
  const failure = failureOf(change, batchFailure);
  if (!failure) {
    const stored = change.upsert.known ?? storedOutcome(change.outcome, tally)!;
    return counted(tally, manifestItem(change.upsert.meta, stored));
  }
  recordFailure(tally, change.upsert.meta, failure, facts, before !== undefined);
  // A newer version was listed and could not be stored: the older one stays, marked stale.
  return before ? counted(tally, { ...before, stale: true }) : undefined;
}

function counted(tally: ManifestTally, item: ManifestItem): ManifestItem {
  tally.itemCount++;
  tally.totalBytes += item.length;
  tally.inFolder.set(item.folderId, (tally.inFolder.get(item.folderId) ?? 0) + 1);
  return item;
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

async function* tagged<T, U>(source: AsyncIterable<T> | Iterable<T>, wrap: (record: T) => U): AsyncGenerator<U> {
  for await (const record of source) yield wrap(record);
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
  facts: ChangeFacts,
  olderVersionKept: boolean,
): void {
  tally.foldersWithFailures.add(meta.folderId);
  if (!olderVersionKept) tally.missingFailedIn.set(meta.folderId, (tally.missingFailedIn.get(meta.folderId) ?? 0) + 1);
  tally.failures.push({
    itemId: meta.id,
    folderPath: folderPathText(facts.folders.get(meta.folderId)?.path ?? []),
    ...(meta.subject ? { subject: meta.subject } : {}),
    ...failure,
  });
}
