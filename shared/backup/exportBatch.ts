import {
  ExportStreamError,
  GraphRequestError,
  GraphRetriesExhaustedError,
  type ExportedItem,
  type GraphLogger,
  type MailboxClient,
} from '../graph/index.js';
import { layout } from '../vault/layout.js';
import { VersionConflictError, type StoredVersion, type VaultStore } from '../vault/vaultStore.js';
import { readPlannedBatch } from './plan.js';
import type { BatchResult, BatchSummary, ItemResult, PlannedItem } from './types.js';

export interface ExportBatchInput {
  runId: string;
  mailboxId: string;
  /** The first planned batch this activity exports. */
  batch: number;
  /** Consecutive batches, exported one after the other (uploads of one overlap the next one's call). */
  count?: number;
  planVersion: string;
}

/** Per-item codes worth one more try on their own (transient on Exchange's side, or simply left out). */
const RETRY_ALONE = new Set(['NotReturned', 'NoData', 'ErrorInternalServerTransientError', 'ErrorTimeoutExpired', 'ErrorServerBusy', 'ErrorMailboxStoreUnavailable']);

/** Small-item uploads in flight per batch, and the bytes they may hold in memory together. */
const PARALLEL_UPLOADS = 8;
const PARALLEL_UPLOAD_BYTES = 32 * 1024 * 1024;

/** Reads up to `limit` bytes; `ended` tells whether that was the whole stream, `rest` continues it if not. */
async function readUpTo(stream: AsyncIterable<Buffer>, limit: number): Promise<{ buffer: Buffer; ended: boolean; rest: AsyncIterator<Buffer> }> {
  const chunks: Buffer[] = [];
  let length = 0;
  const rest = stream[Symbol.asyncIterator]();
  while (length < limit) {
    const next = await rest.next();
    if (next.done) return { buffer: Buffer.concat(chunks, length), ended: true, rest };
    chunks.push(next.value);
    length += next.value.length;
  }
  return { buffer: Buffer.concat(chunks, length), ended: false, rest };
}

/** The head already read, then the rest of the same iterator (a second iterator on a stream would conflict). */
async function* continueWith(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield head;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/** A whole call that failed: split, and give each item its own call. */
const WHOLE_CALL_FAILURES = new Set(['ExportStreamBroken', 'RetriesExhausted', 'NetworkFailure']);

function failureOf(error: unknown): { code: string; message: string } {
  if (error instanceof GraphRequestError) return { code: error.code, message: error.message };
  if (error instanceof GraphRetriesExhaustedError) return { code: 'RetriesExhausted', message: error.message };
  if (error instanceof ExportStreamError) return { code: 'ExportStreamBroken', message: error.message };
  if (error instanceof VersionConflictError) return { code: 'VersionConflict', message: error.message };
  return { code: (error as Error)?.name ?? 'Error', message: (error as Error)?.message ?? String(error) };
}

/**
 * One exportItems call for a planned batch, each item streamed into its write-once blob while it is hashed.
 * Per-item errors are recorded, not thrown. A batch that breaks as a whole, and items Graph left out or
 * failed transiently, are tried once more item by item. The outcome of every item goes to the run's folder,
 * so the activity can run again (at-least-once) without harm.
 */
export async function exportBatch(client: MailboxClient, vault: VaultStore, input: ExportBatchInput, logger?: GraphLogger): Promise<BatchSummary> {
  const { runId, mailboxId, batch: first, planVersion } = input;
  const batchNumbers = Array.from({ length: Math.max(1, input.count ?? 1) }, (_, i) => first + i);
  const plans = await Promise.all(batchNumbers.map((number) => readPlannedBatch(vault, runId, mailboxId, number, planVersion)));
  const throttleBefore = client.throttleStats(mailboxId);
  const results = new Map<string, ItemResult>();
  const byId = new Map(plans.flatMap((p) => p.items).map((item) => [item.id, item]));

  // Items that fit one block are read whole (bounded: block size × uploads in flight) and written while the
  // response moves on to the next item; larger ones stream straight into their blob. Without this, each
  // upload's round trip would hold the export response still.
  const uploads = new Set<Promise<void>>();
  let uploadBytes = 0;
  const storeOne = async (item: ExportedItem, plannedItem: PlannedItem): Promise<void> => {
    if (!item.data) {
      results.set(item.itemId, { id: item.itemId, ok: false, code: item.error.code, message: item.error.message });
      return;
    }
    // The version blob is named after the changeKey planned; Graph's answer wins if the item changed since.
    const data = item.data;
    const head = await readUpTo(data, vault.singleRequestLimit + 1);
    const blobName = layout.itemVersion(mailboxId, item.itemId, item.changeKey ?? plannedItem.changeKey);
    const record = (stored: StoredVersion): void => {
      results.set(item.itemId, { id: item.itemId, ok: true, blob: stored.blobName, sha256: stored.sha256, length: stored.length, written: stored.written });
    };
    if (head.ended) {
      while (uploads.size >= PARALLEL_UPLOADS || (uploads.size > 0 && uploadBytes + head.buffer.length > PARALLEL_UPLOAD_BYTES)) await Promise.race(uploads);
      const size = head.buffer.length;
      uploadBytes += size;
      const upload = vault
        .writeItemVersion(blobName, [head.buffer])
        .then(record, (error: unknown) => {
          results.set(item.itemId, { id: item.itemId, ok: false, ...failureOf(error) });
        })
        .finally(() => {
          uploads.delete(upload);
          uploadBytes -= size;
        });
      uploads.add(upload);
      return;
    }
    record(await vault.writeItemVersion(blobName, continueWith(head.buffer, head.rest)));
  };

  const run = async (items: PlannedItem[]): Promise<void> => {
    try {
      for await (const exported of client.exportItems(mailboxId, items.map((i) => i.id))) {
        const plannedItem = byId.get(exported.itemId);
        if (!plannedItem) continue; // not asked for: ignore
        try {
          await storeOne(exported, plannedItem);
        } catch (error) {
          if (error instanceof ExportStreamError) throw error; // the response broke under this item
          results.set(exported.itemId, { id: exported.itemId, ok: false, ...failureOf(error) });
        }
      }
    } catch (error) {
      // The whole call failed or broke off: whatever has no result yet is marked for a retry alone.
      for (const item of items) if (!results.has(item.id)) results.set(item.id, { id: item.id, ok: false, ...failureOf(error) });
      logger?.warn(`exportBatch ${first}: ${(error as Error).message}; retrying its unfinished items one by one`);
    }
  };

  // One call per batch, one after the other: the next call starts while the last one's writes finish.
  for (const planned of plans) await run(planned.items);
  await Promise.all(uploads);
  const retry = plans.flatMap((planned) =>
    planned.items.filter((item) => {
      const result = results.get(item.id);
      if (!result || result.ok) return false;
      return RETRY_ALONE.has(result.code) || (planned.items.length > 1 && WHOLE_CALL_FAILURES.has(result.code));
    }),
  );
  for (const item of retry) {
    results.delete(item.id);
    await run([item]);
    await Promise.all(uploads);
  }

  const throttleAfter = client.throttleStats(mailboxId);
  const throttledResponses = throttleAfter.throttledResponses - throttleBefore.throttledResponses;
  const throttleWaitInMs = throttleAfter.throttleWaitInMs - throttleBefore.throttleWaitInMs;
  let stored = 0;
  let failed = 0;
  let bytes = 0;
  const records = plans.map((planned, index): BatchResult => {
    const ordered = planned.items.map((item) => results.get(item.id) ?? { id: item.id, ok: false as const, code: 'NotExported', message: 'No outcome recorded' });
    stored += ordered.filter((r) => r.ok).length;
    failed += ordered.filter((r) => !r.ok).length;
    bytes += ordered.reduce((sum, r) => sum + (r.ok ? r.length : 0), 0);
    // Throttling is counted once, with the first batch of the activity.
    return { batch: planned.batch, planVersion, results: ordered, throttledResponses: index === 0 ? throttledResponses : 0, throttleWaitInMs: index === 0 ? throttleWaitInMs : 0 };
  });
  await Promise.all(records.map((record) => vault.writeJson(layout.runBatchResult(runId, mailboxId, record.batch), record)));
  return { batch: first, stored, failed, bytes };
}
