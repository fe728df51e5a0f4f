import { folderPathText } from '../mailbox/index.js';
import { statusFrom } from '../status.js';
import { linkArchive } from '../vault/archiveLinks.js';
import { keyOf, layout } from '../vault/layout.js';
import { refreshAfterCommit } from '../vault/mailboxDirectory.js';
import { releaseClaim, runIsDone, withMailboxLease, type HeldMailbox } from '../vault/mailboxOwner.js';
import { emptyManifestDraft, finishManifest, ManifestBlockWriter } from '../vault/manifestWriter.js';
import type { DeltaState, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import {
  addSliceRuns,
  discardSliceRuns,
  inputsFromRuns,
  sortCommitInputs,
  type MergeInputs,
  type SortedCommitInputs,
} from './commitInputs.js';
import { emptyTally, resolvedKeys, withVanished, type ChangeFacts, type ManifestTally } from './commitMerge.js';
import {
  factsFrom,
  storedFacts,
  storedTally,
  tallyFrom,
  type CommitProgress,
  type MergeProgress,
} from './commitProgress.js';
import { compareCoverage, coverageProblems } from './coverageReport.js';
import { joinedChanges } from './itemChanges.js';
import type { NextDeltaState } from './plan.js';
import type { MailboxRunResult } from './types.js';

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

export interface CommitSliceInput extends CommitInput {
  /** 0 starts the commit; each next slice continues from the checkpoint the one before it wrote. */
  slice: number;
}

export type CommitSliceResult = { nextSlice: number } | { result: MailboxRunResult };

/**
 * Records one slice works through before it checkpoints: the first slices read and sort the change list and the
 * outcomes (a record each), the next resolve keys of the merge (a key each). About a minute of work on this project's
 * machines, whatever the mailbox's size; a commit that fits in one slice writes no checkpoint.
 */
export const DEFAULT_COMMIT_SLICE_RECORDS = 200_000;

/** Tuning of the commit (tests make both budgets small to exercise the sort's runs and the slices). */
export interface CommitOptions {
  /** Records each sort holds in memory before it writes a sorted run to the vault. */
  recordsInMemory?: number;
  /** Records one slice works through before it checkpoints (DEFAULT_COMMIT_SLICE_RECORDS). */
  sliceRecords?: number;
}

/** The whole commit in one call, slice after slice (tests, and orchestrations started before slices). */
export async function commitSnapshot(
  vault: VaultStore,
  input: CommitInput,
  now: () => Date = () => new Date(),
  options: CommitOptions = {},
): Promise<MailboxRunResult> {
  for (let slice = 0; ;) {
    const step = await commitSnapshotSlice(vault, { ...input, slice }, now, options);
    if ('result' in step) return step.result;
    slice = step.nextSlice;
  }
}

/**
 * One slice of the run's commit, holding the mailbox's lease (mailboxOwner.ts); the slice that finishes it gives
 * up the run's claim. A run that does not own the mailbox may not commit to it: it would build on, or move
 * delta.json behind, the owner's snapshot.
 */
export async function commitSnapshotSlice(
  vault: VaultStore,
  input: CommitSliceInput,
  now: () => Date = () => new Date(),
  options: CommitOptions = {},
): Promise<CommitSliceResult> {
  const mailboxKey = keyOf(input.mailboxId);
  return withMailboxLease(vault, mailboxKey, async (held) => {
    const { holder, prunes } = await held.read();
    if (holder && holder.runId !== input.runId && !(await runIsDone(vault, holder.runId, mailboxKey)))
      throw new Error(`Backup ${holder.runId} owns this mailbox; ${input.runId} may not commit to it`);
    // A sweep since the claim may have taken versions this run counts on (inFlight.ts): look before using them.
    // Without its claim (an orchestration from before claims, a freed owner record) the run cannot tell: look.
    const recheck = holder?.runId === input.runId ? prunes !== holder.prunesAtClaim : true;
    const step = await commitSlice(vault, input, { held, recheck, now, options });
    if ('result' in step) await releaseClaim(held, input.runId);
    return step;
  });
}

interface SliceContext {
  held: HeldMailbox;
  recheck: boolean;
  now: () => Date;
  options: CommitOptions;
}

/** What a slice merges: the inputs, and what slice 0 fixed for every slice after it. */
interface CommitWork {
  previous: SnapshotRecord | undefined;
  facts: ChangeFacts;
  throttle: CommitProgress['throttle'];
  inputs: MergeInputs;
  /** The sorted runs in the vault, named by every checkpoint; absent for a commit done in one slice. */
  runs?: CommitProgress['runs'];
  merge: MergeProgress;
  /** Records this slice has worked through so far. */
  spent: number;
  discard(): Promise<void>;
}

/**
 * Builds the snapshot: the previous manifest, plus new and changed versions, minus removals and items of
 * folders that are gone, written as a new manifest with its index; then the snapshot record, last, as the
 * commit. Every stream is merged in (folder, item id) order, items sorted through the vault where needed, so
 * memory does not grow with the mailbox; a large mailbox's merge goes over several slices, each resuming after
 * the last key the one before it resolved. Delta links advance only for folders whose every planned item was
 * stored. Idempotent: once the record exists, a retry rebuilds only the tally from the same previous snapshot
 * and never rewrites the committed manifest; a slice retried after its checkpoint landed moves on.
 */
async function commitSlice(
  vault: VaultStore,
  input: CommitSliceInput,
  context: SliceContext,
): Promise<CommitSliceResult> {
  const { runId, mailboxId, snapshotId, slice } = input;
  const committed = await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, snapshotId));
  const existingResult = await vault.readJson<MailboxRunResult>(layout.runMailboxResult(runId, mailboxId));
  if (existingResult && committed) return { result: existingResult };
  const stored = await vault.readJson<CommitProgress>(layout.runCommitProgress(runId, mailboxId));
  // Retried after its checkpoint landed (the process died before Durable heard): its work is done.
  if (stored && stored.slice >= slice) return { nextSlice: stored.slice + 1 };
  let work: CommitWork;
  if (slice === 0) {
    const started = await startCommit(vault, input, committed, context);
    if ('nextSlice' in started) return started;
    work = started;
  } else {
    if (!stored || stored.slice < slice - 1)
      throw new Error(`Commit slice ${slice} of run ${runId} has no checkpoint of slice ${slice - 1} to continue from`);
    if (stored.sort) {
      const sorted = await continueSort(vault, input, stored, context);
      if ('nextSlice' in sorted) return sorted;
      work = sorted;
    } else work = await resumeCommit(vault, mailboxId, stored);
  }
  try {
    const merged = await mergeSlice(vault, input, work, committed, context);
    if ('nextSlice' in merged) return merged;
    return { result: await finishCommit(vault, input, work, committed, merged, context) };
  } finally {
    if (!work.runs) await work.discard();
  }
}

/**
 * Slice 0: reads the change list and the outcomes into sorts. A commit whose sorting and merging fit one slice's
 * budget goes on in memory and writes no checkpoint; a larger one writes its sorted runs to the vault and names
 * them in a checkpoint, reading on in the next slices where its inputs exceed one slice's budget.
 */
async function startCommit(
  vault: VaultStore,
  input: CommitSliceInput,
  committed: SnapshotRecord | undefined,
  context: SliceContext,
): Promise<CommitWork | { nextSlice: number }> {
  const { runId, mailboxId } = input;
  const state = await vault.readJson<DeltaState>(layout.deltaState(mailboxId));
  const previousId = committed ? committed.previousSnapshotId : state?.lastSnapshotId;
  const previous = previousId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, previousId))
    : undefined;
  // A run whose claim was taken over (its orchestration ended) must not commit behind the newer snapshot.
  if (!committed && previous && previous.takenAt > input.takenAt)
    throw new Error(`Snapshot ${previous.snapshotId} is newer than this run's; ${runId} does not commit behind it`);
  const sorted = await sortCommitInputs(sortSettings(vault, context), input, previous, { slice: 0 });
  const { facts, throttle, records } = sorted;
  const merge: MergeProgress = {
    recheck: context.recheck,
    draft: emptyManifestDraft(),
    tally: storedTally(emptyTally()),
  };
  // Sorting costs a record each, merging a key each (the changes and the previous snapshot's items).
  if (!sorted.progress && records + records + (previous?.itemCount ?? 0) <= sliceBudget(context)) {
    const { inputs, discard } = await sorted.sealed();
    return { previous, facts, throttle, inputs, merge, spent: records, discard };
  }
  return checkpointSorted(vault, input, context, { previous, merge, sorted });
}

/** A slice after the first while the inputs are still being read: reads on from the checkpoint's reading. */
async function continueSort(
  vault: VaultStore,
  input: CommitSliceInput,
  stored: CommitProgress,
  context: SliceContext,
): Promise<CommitWork | { nextSlice: number }> {
  const previous = stored.previousId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(input.mailboxId, stored.previousId))
    : undefined;
  const sorted = await sortCommitInputs(sortSettings(vault, context), input, previous, {
    slice: input.slice,
    progress: stored.sort!,
    facts: factsFrom(stored.facts),
    throttle: stored.throttle,
  });
  return checkpointSorted(vault, input, context, { previous, merge: stored.merge, sorted, runsBefore: stored.runs });
}

/**
 * Writes a reading slice's sorted runs and the checkpoint naming them with those of the slices before. With the
 * reading done and budget left, the merge goes on in the same slice.
 */
async function checkpointSorted(
  vault: VaultStore,
  input: CommitSliceInput,
  context: SliceContext,
  work: {
    previous: SnapshotRecord | undefined;
    merge: MergeProgress;
    sorted: SortedCommitInputs;
    runsBefore?: CommitProgress['runs'];
  },
): Promise<CommitWork | { nextSlice: number }> {
  const { runId, mailboxId, slice } = input;
  const { previous, merge, sorted } = work;
  const { facts, throttle, records } = sorted;
  let checkpointed = false;
  try {
    const spansSlices = slice > 0 || sorted.progress !== undefined;
    const runs = await addSliceRuns(vault, input, work.runsBefore, await sorted.sealInVault(), spansSlices);
    const progress: CommitProgress = {
      slice,
      previousId: previous?.snapshotId ?? null,
      facts: storedFacts(facts),
      throttle,
      runs,
      ...(sorted.progress ? { sort: sorted.progress } : {}),
      merge,
    };
    await vault.writeJson(layout.runCommitProgress(runId, mailboxId), progress);
    checkpointed = true;
    if (sorted.progress || records >= sliceBudget(context)) return { nextSlice: slice + 1 };
    const inputs = await inputsFromRuns(vault, runs, previous);
    return { previous, facts, throttle, inputs, runs, merge, spent: records, discard: async () => {} };
  } finally {
    if (!checkpointed) {
      await sorted.discard();
      // addSliceRuns's runs too: a slice whose reading spans slices merged its runs into one of its own.
      await discardSliceRuns(vault, input);
    }
  }
}

const sliceBudget = (context: SliceContext) => context.options.sliceRecords ?? DEFAULT_COMMIT_SLICE_RECORDS;

function sortSettings(vault: VaultStore, context: SliceContext) {
  const { recordsInMemory } = context.options;
  return { vault, budget: sliceBudget(context), ...(recordsInMemory ? { recordsInMemory } : {}) };
}

/** A later slice: the work as the checkpoint before it left it. */
async function resumeCommit(vault: VaultStore, mailboxId: string, progress: CommitProgress): Promise<CommitWork> {
  const previous = progress.previousId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, progress.previousId))
    : undefined;
  return {
    previous,
    facts: factsFrom(progress.facts),
    throttle: progress.throttle,
    inputs: await inputsFromRuns(vault, progress.runs, previous),
    runs: progress.runs,
    merge: progress.merge,
    spent: 0,
    discard: async () => {},
  };
}

/** Where a slice's merge ended: the manifest's blocks it staged, and the tally of every key so far. */
interface Merged {
  written?: { draft: CommitProgress['merge']['draft']; sha256?: string };
  tally: ManifestTally;
}

/**
 * Merges from where the last slice stopped until the inputs end (returns the tally) or the slice's budget is
 * spent (checkpoints and returns the next slice). Against a committed record it only tallies: the committed
 * manifest is never written again.
 */
async function mergeSlice(
  vault: VaultStore,
  input: CommitSliceInput,
  work: CommitWork,
  committed: SnapshotRecord | undefined,
  context: SliceContext,
): Promise<Merged | { nextSlice: number }> {
  const { runId, mailboxId, snapshotId, slice } = input;
  let merge = work.merge;
  // A sweep since the merge began may have taken versions it referenced without looking: it starts over, looking.
  if (context.recheck && !merge.recheck)
    merge = { recheck: true, draft: emptyManifestDraft(), tally: storedTally(emptyTally()) };
  const tally = tallyFrom(merge.tally);
  const manifestBlob = layout.manifest(mailboxId, snapshotId);
  const writer = committed ? undefined : new ManifestBlockWriter(vault, manifestBlob, merge.draft, slice);
  if (writer && merge.draft.offset === 0) await writer.writeFolders([...work.facts.folders.values()]);
  const { after } = merge;
  const itemChanges = joinedChanges(work.inputs.changes(after), work.inputs.outcomes(after));
  const keys = resolvedKeys(
    withVanished(vault, itemChanges, merge.recheck),
    work.inputs.previous(after),
    work.facts,
    tally,
    input.failedBatches?.[0]?.reason,
  );
  const budget = sliceBudget(context);
  let last = after;
  let stopped = false;
  for await (const { key, item } of keys) {
    if (item) await writer?.add(item);
    last = key;
    // A commit done in one slice has no checkpoint to stop at.
    if (work.runs && ++work.spent >= budget) {
      stopped = true;
      break;
    }
  }
  const written = await writer?.close();
  if (!stopped) return { ...(written ? { written } : {}), tally };
  const progress: CommitProgress = {
    slice,
    previousId: work.previous?.snapshotId ?? null,
    facts: storedFacts(work.facts),
    throttle: work.throttle,
    runs: work.runs!,
    merge: {
      ...(last !== undefined ? { after: last } : {}),
      recheck: merge.recheck,
      draft: written?.draft ?? merge.draft,
      tally: storedTally(tally),
    },
  };
  await vault.writeJson(layout.runCommitProgress(runId, mailboxId), progress);
  return { nextSlice: slice + 1 };
}

/**
 * The last slice: the manifest committed from its staged blocks and its index written, then the snapshot record
 * (the commit), the delta state and the run's result; the slices' scratch goes last.
 */
async function finishCommit(
  vault: VaultStore,
  input: CommitSliceInput,
  work: CommitWork,
  committed: SnapshotRecord | undefined,
  merged: Merged,
  context: SliceContext,
): Promise<MailboxRunResult> {
  const { runId, mailboxId, snapshotId } = input;
  const { facts, previous } = work;
  const { tally } = merged;
  const manifestBlob = layout.manifest(mailboxId, snapshotId);
  const manifestIndexBlob = layout.manifestIndex(mailboxId, snapshotId);
  let manifestSha256 = committed?.manifestSha256;
  if (merged.written) {
    manifestSha256 = await finishManifest(vault, manifestBlob, merged.written);
    await vault.writeJson(manifestIndexBlob, merged.written.draft.index);
  }
  const { summary: coverage, problemFolderIds } = compareCoverage(
    {
      counts: facts.folderCounts,
      inSnapshot: tally.inFolder,
      failed: tally.missingFailedIn,
      pathOf: (folderId) => folderPathText(facts.folders.get(folderId)?.path ?? []),
      failedFolders: new Set(facts.failedFolders.map((f) => f.folderId)),
    },
    facts.coverageUnchecked,
    facts.notCompared,
  );
  const record: SnapshotRecord = {
    snapshotId,
    mailboxId,
    upn: input.upn,
    ...(input.archiveOf ? { archiveOf: input.archiveOf } : {}),
    runId,
    takenAt: input.takenAt,
    committedAt: context.now().toISOString(),
    status: statusFrom(tally.failures.length + facts.failedFolders.length + coverageProblems(coverage)),
    folderCount: facts.folders.size,
    itemCount: tally.itemCount,
    totalBytes: tally.totalBytes,
    manifestBlob,
    manifestSha256: manifestSha256!,
    manifestIndexBlob,
    previousSnapshotId: previous?.snapshotId ?? null,
    failedItemCount: tally.failures.length,
  };
  context.held.assertHeld();
  if (!committed) await vault.writeJson(layout.snapshotRecord(mailboxId, snapshotId), record, { onlyIfAbsent: true });
  await refreshAfterCommit(vault, committed ?? record);
  if (input.archiveOf) await linkArchive(vault, input.archiveOf, mailboxId);
  const state = await vault.readJson<DeltaState>(layout.deltaState(mailboxId));
  await advanceDeltaState(vault, input, state, facts, tally, problemFolderIds, context.now);

  const finished = context.now();
  const result = { ...mailboxRunResult(input, committed ?? record, facts, work.throttle, tally, finished), coverage };
  await vault.writeJson(layout.runMailboxResult(runId, mailboxId), result);
  if (work.runs) await deleteCommitScratch(vault, runId, mailboxId);
  return result;
}

/** The sorted runs and the checkpoint of a commit in slices, once its result is written. */
async function deleteCommitScratch(vault: VaultStore, runId: string, mailboxId: string): Promise<void> {
  const names: string[] = [];
  for await (const name of vault.listNames(layout.runCommitSortPrefix(runId, mailboxId))) names.push(name);
  await Promise.all(names.map((name) => vault.deleteIfExists(name)));
  await vault.deleteIfExists(layout.runCommitProgress(runId, mailboxId));
}

/**
 * Moves the delta base on: per folder, only where everything planned is stored. A folder whose coverage check
 * failed loses its link, so that the next run reads it in full.
 */
async function advanceDeltaState(
  vault: VaultStore,
  input: CommitInput,
  state: DeltaState | undefined,
  facts: ChangeFacts,
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
  for (const folderId of facts.folders.keys()) {
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
  facts: ChangeFacts,
  throttle: CommitProgress['throttle'],
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
    failedFolders: facts.failedFolders.map((f) => folderNote(facts, f)),
    enumeratedFolders: facts.enumeratedFolders.map((f) => folderNote(facts, f)),
    itemsWithoutSearchKey: facts.metadataGaps.map((gap) => ({ ...folderNote(facts, gap), items: gap.items })),
    failures: tally.failures,
  };
}

function folderNote(facts: ChangeFacts, note: { folderId: string; reason: string }) {
  return { folderPath: folderPathText(facts.folders.get(note.folderId)?.path ?? []), reason: note.reason };
}
