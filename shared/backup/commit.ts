import pLimit from 'p-limit';
import { layout } from '../vault/layout.js';
import type { DeltaState, ManifestEntry, ManifestFolder, ManifestItem, SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { NextDeltaState } from './plan.js';
import {
  folderPathText,
  type BatchResult,
  type ChangeRecord,
  type ItemFailure,
  type ItemMeta,
  type ItemResult,
  type MailboxRunResult,
  type StoredRef,
} from './types.js';

export interface CommitInput {
  runId: string;
  mailboxId: string;
  upn: string;
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

function manifestItem(meta: ItemMeta, stored: StoredRef): ManifestItem {
  return { kind: 'item', ...meta, blob: stored.blob, sha256: stored.sha256, length: stored.length };
}

/**
 * Builds the snapshot: the previous manifest, plus new and changed versions, minus removals and items of
 * folders that are gone, written as a new manifest; then the snapshot record, last, as the commit. Delta links
 * advance only for folders whose every planned item was stored. Idempotent: a second call finds the record.
 */
export async function commitSnapshot(
  vault: VaultStore,
  input: CommitInput,
  now: () => Date = () => new Date(),
): Promise<MailboxRunResult> {
  const { runId, mailboxId, snapshotId } = input;
  const existingResult = await vault.readJson<MailboxRunResult>(layout.runMailboxResult(runId, mailboxId));
  if (existingResult && (await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, snapshotId))))
    return existingResult;

  const state = await vault.readJson<DeltaState>(layout.deltaState(mailboxId));
  const previous = state?.lastSnapshotId
    ? await vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, state.lastSnapshotId))
    : undefined;

  // What the batches stored.
  const outcomes = new Map<string, ItemResult>();
  let throttledResponses = 0;
  let throttleWaitInMs = 0;
  for (const result of await readBatchResults(vault, input)) {
    throttledResponses += result.throttledResponses;
    throttleWaitInMs += result.throttleWaitInMs;
    for (const outcome of result.results) outcomes.set(outcome.id, outcome);
  }

  // What changed.
  const folders = new Map<string, ManifestFolder>();
  const resynced = new Set<string>();
  const upserts = new Map<string, { meta: ItemMeta; known?: StoredRef }>();
  const removed = new Set<string>();
  const failedFolders: Array<{ folderId: string; reason: string }> = [];
  for await (const record of vault.readNdjsonGz<ChangeRecord>(layout.runChanges(runId, mailboxId))) {
    switch (record.kind) {
      case 'folder':
        folders.set(record.id, record);
        break;
      case 'resync':
        resynced.add(record.folderId);
        break;
      case 'upsert':
        upserts.set(record.item.id, { meta: record.item, ...(record.known ? { known: record.known } : {}) });
        break;
      case 'remove':
        removed.add(record.id);
        break;
      case 'folderFailed':
        failedFolders.push({ folderId: record.folderId, reason: record.reason });
        break;
    }
  }
  const failedBatchReason = new Map<number, string>((input.failedBatches ?? []).map((b) => [b.batch, b.reason]));
  const failureFor = (id: string): { code: string; message: string } | undefined => {
    const upsert = upserts.get(id);
    if (!upsert || upsert.known) return undefined;
    const outcome = outcomes.get(id);
    if (outcome?.ok) return undefined;
    if (outcome) return { code: outcome.code, message: outcome.message };
    const reason = failedBatchReason.size ? [...failedBatchReason.values()][0] : undefined;
    return {
      code: 'NotExported',
      message: reason ? `its export activity failed: ${reason}` : 'no outcome was recorded for it',
    };
  };

  const failures: ItemFailure[] = [];
  const foldersWithFailures = new Set<string>();
  let itemCount = 0;
  let totalBytes = 0;
  let exported = 0;
  let alreadyStored = 0;
  let bytesExported = 0;
  const pathOf = (folderId: string) => folderPathText(folders.get(folderId)?.path ?? []);

  async function* manifest(): AsyncGenerator<ManifestEntry> {
    for (const folder of folders.values()) yield folder;
    const count = (item: ManifestItem) => {
      itemCount++;
      totalBytes += item.length;
      return item;
    };
    if (previous) {
      for await (const entry of vault.readNdjsonGz<ManifestEntry>(previous.manifestBlob)) {
        if (entry.kind !== 'item') continue;
        if (!folders.has(entry.folderId) || removed.has(entry.id)) continue;
        if (upserts.has(entry.id)) {
          // A newer version was listed; if it could not be stored, the older one stays, marked stale.
          if (failureFor(entry.id)) yield count({ ...entry, stale: true });
          continue;
        }
        if (resynced.has(entry.folderId)) continue; // re-listed in full and not there any more
        yield count(entry);
      }
    }
    for (const [id, { meta, known }] of upserts) {
      if (!folders.has(meta.folderId)) continue;
      if (known) {
        yield count(manifestItem(meta, known));
        continue;
      }
      const outcome = outcomes.get(id);
      if (outcome?.ok) {
        exported++;
        if (!outcome.written) alreadyStored++;
        bytesExported += outcome.length;
        yield count(manifestItem(meta, outcome));
        continue;
      }
      const failure = failureFor(id)!;
      foldersWithFailures.add(meta.folderId);
      failures.push({
        itemId: id,
        folderPath: pathOf(meta.folderId),
        ...(meta.subject ? { subject: meta.subject } : {}),
        ...failure,
      });
    }
  }

  const manifestBlob = layout.manifest(mailboxId, snapshotId);
  const written = await vault.writeNdjsonGz(manifestBlob, manifest());
  const status = failures.length || failedFolders.length ? 'CompleteWithErrors' : 'Complete';
  const record: SnapshotRecord = {
    snapshotId,
    mailboxId,
    upn: input.upn,
    runId,
    takenAt: input.takenAt,
    committedAt: now().toISOString(),
    status,
    folderCount: folders.size,
    itemCount,
    totalBytes,
    manifestBlob,
    manifestSha256: written.sha256,
    previousSnapshotId: previous?.snapshotId ?? null,
    failedItemCount: failures.length,
  };
  await vault.writeJson(layout.snapshotRecord(mailboxId, snapshotId), record, { onlyIfAbsent: true });

  // Advance the delta base: per folder, only where everything planned is stored.
  const next = await vault.readJson<NextDeltaState>(layout.runNextDelta(runId, mailboxId));
  const itemDeltaLinks: Record<string, string> = {};
  for (const folderId of folders.keys()) {
    const link = foldersWithFailures.has(folderId) ? state?.itemDeltaLinks[folderId] : next?.itemDeltaLinks[folderId];
    if (link) itemDeltaLinks[folderId] = link;
  }
  const newState: DeltaState = { itemDeltaLinks, lastSnapshotId: snapshotId, updatedAt: now().toISOString() };
  if (next?.folderDeltaLink) newState.folderDeltaLink = next.folderDeltaLink;
  await vault.writeJson(layout.deltaState(mailboxId), newState);

  const finishedAt = now();
  const result: MailboxRunResult = {
    upn: input.upn,
    mailboxId,
    status: status === 'Complete' ? 'Completed' : 'CompletedWithErrors',
    snapshotId,
    startedAt: input.startedAt,
    finishedAt: finishedAt.toISOString(),
    durationInMs: finishedAt.getTime() - Date.parse(input.startedAt),
    items: {
      inSnapshot: itemCount,
      exported,
      alreadyStored,
      failed: failures.length,
      removed: removed.size,
      changed: [...upserts.values()].filter((u) => !u.known).length,
    },
    bytesExported,
    throttling: { responses: throttledResponses, waitInMs: throttleWaitInMs },
    failedFolders: failedFolders.map((f) => ({ folderPath: pathOf(f.folderId), reason: f.reason })),
    failures,
  };
  await vault.writeJson(layout.runMailboxResult(runId, mailboxId), result);
  return result;
}
