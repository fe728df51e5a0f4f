import pLimit from 'p-limit';
import { folderPathText, type ItemMeta } from '../mailbox/index.js';
import { statusFrom } from '../status.js';
import { linkArchive } from '../vault/archiveLinks.js';
import { keyOf, layout } from '../vault/layout.js';
import { releaseClaim, runIsDone, withMailboxLease, type HeldMailbox } from '../vault/mailboxOwner.js';
import type { DeltaState, ManifestEntry, ManifestFolder, ManifestItem, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { compareCoverage, coverageProblems, type FolderCount } from './coverageReport.js';
import type { NextDeltaState } from './plan.js';
import type { BatchResult, ChangeRecord, ItemFailure, ItemResult, MailboxRunResult, StoredRef } from './types.js';

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

/** Batch results read at once: a run's results are many small blobs, and reading them one by one is all latency. */
const PARALLEL_RESULT_READS = 16;

/** What the run's export batches stored, item by item. */
interface BatchOutcomes {
  byItem: Map<string, ItemResult>;
  throttledResponses: number;
  throttleWaitInMs: number;
}

/** The run's change list, as planning wrote it. */
interface ChangeList {
  folders: Map<string, ManifestFolder>;
  resynced: Set<string>;
  upserts: Map<string, { meta: ItemMeta; known?: StoredRef }>;
  removed: Set<string>;
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
): Promise<MailboxRunResult> {
  const mailboxKey = keyOf(input.mailboxId);
  return withMailboxLease(vault, mailboxKey, async (held) => {
    const { holder, prunes } = await held.read();
    if (holder && holder.runId !== input.runId && !(await runIsDone(vault, holder.runId, mailboxKey)))
      throw new Error(`Backup ${holder.runId} owns this mailbox; ${input.runId} may not commit to it`);
    // A sweep since the claim may have taken versions this run counts on (inFlight.ts): look before using them.
    // Without its claim (an orchestration from before claims, a freed owner record) the run cannot tell: look.
    const recheck = holder?.runId === input.runId ? prunes !== holder.prunesAtClaim : true;
    const result = await commitOwned(vault, input, held, recheck, now);
    await releaseClaim(held, input.runId);
    return result;
  });
}

/**
 * Builds the snapshot: the previous manifest, plus new and changed versions, minus removals and items of
 * folders that are gone, written as a new manifest; then the snapshot record, last, as the commit. Delta links
 * advance only for folders whose every planned item was stored. Idempotent: once the record exists, a retry
 * rebuilds only the tally from the same previous snapshot and never rewrites the committed manifest.
 */
async function commitOwned(
  vault: VaultStore,
  input: CommitInput,
  held: HeldMailbox,
  recheck: boolean,
  now: () => Date,
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
  const outcomes = await readBatchOutcomes(vault, input);
  const changes = await readChangeList(vault, runId, mailboxId);
  const vanished = recheck ? await vanishedVersions(vault, changes, outcomes) : new Set<string>();
  const failureFor = failureLookup(changes, outcomes, input.failedBatches ?? [], vanished);

  const tally: ManifestTally = {
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
  };
  const manifestBlob = layout.manifest(mailboxId, snapshotId);
  const entries = manifestEntries(vault, previous, changes, outcomes, failureFor, tally, vanished);
  const written = committed
    ? await tallyOnly(entries, committed.manifestSha256)
    : await vault.writeNdjsonGz(manifestBlob, entries);
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
}

async function readBatchOutcomes(vault: VaultStore, input: CommitInput): Promise<BatchOutcomes> {
  const outcomes: BatchOutcomes = { byItem: new Map(), throttledResponses: 0, throttleWaitInMs: 0 };
  for (const result of await readBatchResults(vault, input)) {
    outcomes.throttledResponses += result.throttledResponses;
    outcomes.throttleWaitInMs += result.throttleWaitInMs;
    for (const outcome of result.results) outcomes.byItem.set(outcome.id, outcome);
  }
  return outcomes;
}

async function readBatchResults(vault: VaultStore, input: CommitInput): Promise<BatchResult[]> {
  const { runId, mailboxId } = input;
  const names: string[] = [];
  if (input.batchCount !== undefined)
    for (let batch = 0; batch < input.batchCount; batch++) names.push(layout.runBatchResult(runId, mailboxId, batch));
  else for await (const name of vault.listNames(layout.runBatchResultsPrefix(runId, mailboxId))) names.push(name);
  const limit = pLimit(PARALLEL_RESULT_READS);
  const results = await Promise.all(names.map((name) => limit(() => vault.readJson<BatchResult>(name))));
  // A missing result is a batch whose activity failed outright (failedBatches says why).
  return results.filter(
    (result): result is BatchResult => result !== undefined && result.planVersion === input.planVersion,
  );
}

async function readChangeList(vault: VaultStore, runId: string, mailboxId: string): Promise<ChangeList> {
  const changes: ChangeList = {
    folders: new Map(),
    resynced: new Set(),
    upserts: new Map(),
    removed: new Set(),
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
        changes.upserts.set(record.item.id, { meta: record.item, ...(record.known ? { known: record.known } : {}) });
        break;
      case 'remove':
        changes.removed.add(record.id);
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

type FailureLookup = (id: string) => { code: string; message: string } | undefined;

/** Why a listed new version is not stored, or undefined when it is (or needed no export). */
function failureLookup(
  changes: ChangeList,
  outcomes: BatchOutcomes,
  failedBatches: Array<{ batch: number; reason: string }>,
  vanished: Set<string>,
): FailureLookup {
  const batchFailure = failedBatches[0]?.reason;
  return (id) => {
    if (vanished.has(id))
      return {
        code: 'VersionPruned',
        message: 'its stored version was pruned before the commit; exported again next run',
      };
    const upsert = changes.upserts.get(id);
    if (!upsert || upsert.known) return undefined;
    const outcome = outcomes.byItem.get(id);
    if (outcome?.ok) return undefined;
    if (outcome) return { code: outcome.code, message: outcome.message };
    return {
      code: 'NotExported',
      message: batchFailure ? `its export activity failed: ${batchFailure}` : 'no outcome was recorded for it',
    };
  };
}

function manifestItem(meta: ItemMeta, stored: StoredRef): ManifestItem {
  return { kind: 'item', ...meta, blob: stored.blob, sha256: stored.sha256, length: stored.length };
}

/** Every folder, then the previous snapshot's items carried over, then this run's new and changed versions. */
async function* manifestEntries(
  vault: VaultStore,
  previous: SnapshotRecord | undefined,
  changes: ChangeList,
  outcomes: BatchOutcomes,
  failureFor: FailureLookup,
  tally: ManifestTally,
  vanished: Set<string>,
): AsyncGenerator<ManifestEntry> {
  const counted = (item: ManifestItem) => {
    tally.itemCount++;
    tally.totalBytes += item.length;
    tally.inFolder.set(item.folderId, (tally.inFolder.get(item.folderId) ?? 0) + 1);
    return item;
  };
  for (const folder of changes.folders.values()) yield folder;
  if (previous) {
    for await (const entry of vault.readNdjsonGz<ManifestEntry>(previous.manifestBlob)) {
      if (entry.kind !== 'item') continue;
      if (!changes.folders.has(entry.folderId) || changes.removed.has(entry.id)) continue;
      if (changes.upserts.has(entry.id)) {
        // A newer version was listed; if it could not be stored, the older one stays, marked stale.
        if (failureFor(entry.id)) {
          tally.keptStale.add(entry.id);
          yield counted({ ...entry, stale: true });
        }
        continue;
      }
      if (changes.resynced.has(entry.folderId)) continue; // re-listed in full and not there any more
      yield counted(entry);
    }
  }
  for (const [id, { meta, known }] of changes.upserts) {
    if (!changes.folders.has(meta.folderId)) continue;
    const stored = vanished.has(id) ? undefined : (known ?? storedOutcome(outcomes.byItem.get(id), tally));
    if (stored) yield counted(manifestItem(meta, stored));
    else recordFailure(tally, meta, failureFor(id)!, changes);
  }
}

/** Drains the entries for their tally only: the committed manifest stays as it is. */
async function tallyOnly(entries: AsyncIterable<ManifestEntry>, sha256: string): Promise<{ sha256: string }> {
  for await (const entry of entries) void entry;
  return { sha256 };
}

/** Items whose version this run would reference (stored or reused) but which is no longer in the vault. */
async function vanishedVersions(vault: VaultStore, changes: ChangeList, outcomes: BatchOutcomes): Promise<Set<string>> {
  const limit = pLimit(PARALLEL_RESULT_READS);
  const vanished = new Set<string>();
  await Promise.all(
    [...changes.upserts].map(([id, { known }]) =>
      limit(async () => {
        const outcome = outcomes.byItem.get(id);
        const blob = known?.blob ?? (outcome?.ok ? outcome.blob : undefined);
        if (blob && !(await vault.getItemVersion(blob))) vanished.add(id);
      }),
    ),
  );
  return vanished;
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
  outcomes: BatchOutcomes,
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
      removed: changes.removed.size,
      changed: [...changes.upserts.values()].filter((upsert) => !upsert.known).length,
    },
    bytesExported: tally.bytesExported,
    throttling: { responses: outcomes.throttledResponses, waitInMs: outcomes.throttleWaitInMs },
    failedFolders: changes.failedFolders.map((f) => folderNote(changes, f)),
    enumeratedFolders: changes.enumeratedFolders.map((f) => folderNote(changes, f)),
    itemsWithoutSearchKey: changes.metadataGaps.map((gap) => ({ ...folderNote(changes, gap), items: gap.items })),
    failures: tally.failures,
  };
}

function folderNote(changes: ChangeList, note: { folderId: string; reason: string }) {
  return { folderPath: folderPathText(changes.folders.get(note.folderId)?.path ?? []), reason: note.reason };
}
