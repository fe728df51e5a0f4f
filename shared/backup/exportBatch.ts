import { errorCode } from '../errors.js';
import {
  ExportStreamError,
  type ExportedItem,
  type GraphLogger,
  type MailboxClient,
  type ThrottleTally,
} from '../graph/index.js';
import { layout } from '../vault/layout.js';
import type { StoredVersion, VaultStore } from '../vault/vaultStore.js';
import { readPlannedBatches } from './plan.js';
import type { BatchResult, BatchSummary, ItemResult, PlannedBatch, PlannedItem } from './types.js';

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
const RETRY_ALONE = new Set([
  'NotReturned',
  'NoData',
  'ErrorInternalServerTransientError',
  'ErrorTimeoutExpired',
  'ErrorServerBusy',
  'ErrorMailboxStoreUnavailable',
]);

/**
 * Small-item uploads in flight per activity, and the bytes they may hold in memory together. Two whole batches
 * of small items fit, so a response is read to its end at network speed, and the next call starts, while the
 * previous batches' items are still being written.
 */
const PARALLEL_UPLOADS = 40;
const PARALLEL_UPLOAD_BYTES = 32 * 1024 * 1024;

/** Reads up to `limit` bytes; `ended` tells whether that was the whole stream, `rest` continues it if not. */
async function readUpTo(
  stream: AsyncIterable<Buffer>,
  limit: number,
): Promise<{ buffer: Buffer; ended: boolean; rest: AsyncIterator<Buffer> }> {
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
  return { code: errorCode(error), message: error instanceof Error ? error.message : String(error) };
}

/**
 * One exportItems call for a planned batch, each item streamed into its write-once blob while it is hashed.
 * Per-item errors are recorded, not thrown. A batch that breaks as a whole, and items Graph left out or
 * failed transiently, are tried once more item by item. The outcome of every item goes to the run's folder,
 * so the activity can run again (at-least-once) without harm.
 */
export async function exportBatch(
  client: MailboxClient,
  vault: VaultStore,
  input: ExportBatchInput,
  logger?: GraphLogger,
): Promise<BatchSummary> {
  const { runId, mailboxId, batch: first, planVersion } = input;
  const plans = await readPlannedBatches(vault, runId, mailboxId, first, Math.max(1, input.count ?? 1), planVersion);
  const tally: ThrottleTally = { throttledResponses: 0, throttleWaitInMs: 0 };
  const results = new Map<string, ItemResult>();
  const byId = new Map(plans.flatMap((p) => p.items).map((item) => [item.id, item]));

  // Items that fit one block are read whole (bounded: block size × uploads in flight) and written while the
  // response moves on to the next item; larger ones stream straight into their blob. Without this, each
  // upload's round trip would hold the export response still.
  const uploads = new Set<Promise<void>>();
  let uploadBytes = 0;
  const storeOne = async (
    item: ExportedItem,
    plannedItem: PlannedItem,
    started: Array<Promise<void>>,
  ): Promise<void> => {
    if (!item.data) {
      results.set(item.itemId, { id: item.itemId, ok: false, code: item.error.code, message: item.error.message });
      return;
    }
    // The version blob is named after the changeKey planned; Graph's answer wins if the item changed since.
    const head = item.bytes
      ? { buffer: item.bytes, ended: true as const }
      : await readUpTo(item.data, vault.singleRequestLimit + 1);
    const blobName = layout.itemVersion(mailboxId, item.itemId, item.changeKey ?? plannedItem.changeKey);
    const record = (stored: StoredVersion): void => {
      results.set(item.itemId, {
        id: item.itemId,
        ok: true,
        blob: stored.blobName,
        sha256: stored.sha256,
        length: stored.length,
        written: stored.written,
      });
    };
    if (head.ended) {
      while (
        uploads.size >= PARALLEL_UPLOADS ||
        (uploads.size > 0 && uploadBytes + head.buffer.length > PARALLEL_UPLOAD_BYTES)
      )
        await Promise.race(uploads);
      const size = head.buffer.length;
      uploadBytes += size;
      const upload = vault
        .writeItemVersion(blobName, head.buffer)
        .then(record, (error: unknown) => {
          results.set(item.itemId, { id: item.itemId, ok: false, ...failureOf(error) });
        })
        .finally(() => {
          uploads.delete(upload);
          uploadBytes -= size;
        });
      uploads.add(upload);
      started.push(upload);
      return;
    }
    record(await vault.writeItemVersion(blobName, continueWith(head.buffer, head.rest)));
  };

  /** One exportItems call; resolves when the response is read, with the uploads it left running. */
  const run = async (items: PlannedItem[]): Promise<Array<Promise<void>>> => {
    const started: Array<Promise<void>> = [];
    try {
      for await (const exported of client.exportItems(
        mailboxId,
        items.map((i) => i.id),
        { tally },
      )) {
        const plannedItem = byId.get(exported.itemId);
        if (!plannedItem) continue; // not asked for: ignore
        try {
          await storeOne(exported, plannedItem, started);
        } catch (error) {
          if (error instanceof ExportStreamError) throw error; // the response broke under this item
          results.set(exported.itemId, { id: exported.itemId, ok: false, ...failureOf(error) });
        }
      }
    } catch (error) {
      // The whole call failed or broke off: whatever has no result yet is marked for a retry alone.
      for (const item of items)
        if (!results.has(item.id)) results.set(item.id, { id: item.id, ok: false, ...failureOf(error) });
      logger?.warn(`exportBatch ${first}: ${(error as Error).message}; retrying its unfinished items one by one`);
    }
    return started;
  };

  const retryAlone = (planned: PlannedBatch): PlannedItem[] =>
    planned.items.filter((item) => {
      const result = results.get(item.id);
      if (!result || result.ok) return false;
      return RETRY_ALONE.has(result.code) || (planned.items.length > 1 && WHOLE_CALL_FAILURES.has(result.code));
    });
  const outcome = (planned: PlannedBatch): ItemResult[] =>
    planned.items.map(
      (item) =>
        results.get(item.id) ?? {
          id: item.id,
          ok: false as const,
          code: 'NotExported',
          message: 'No outcome recorded',
        },
    );
  const writeResult = (planned: PlannedBatch, throttling: { responses: number; waitInMs: number }) =>
    vault.writeJson(layout.runBatchResult(runId, mailboxId, planned.batch), {
      batch: planned.batch,
      planVersion,
      results: outcome(planned),
      throttledResponses: throttling.responses,
      throttleWaitInMs: throttling.waitInMs,
    } satisfies BatchResult);
  const noThrottling = { responses: 0, waitInMs: 0 };

  // One call per batch, one after the other: the next call starts as soon as a response is read, while its
  // items are still being written. A batch whose items are all settled has its result written at once; one
  // with items to try again alone waits for those single-item calls, after the last batch.
  const settling: Array<Promise<unknown>> = [];
  const unsettled: PlannedBatch[] = [];
  for (const planned of plans) {
    const started = await run(planned.items);
    settling.push(
      Promise.all(started).then(() => {
        if (retryAlone(planned).length > 0 || planned === plans[plans.length - 1]) unsettled.push(planned);
        else return writeResult(planned, noThrottling);
      }),
    );
  }
  await Promise.all(settling);
  for (const planned of plans.filter((p) => unsettled.includes(p))) {
    for (const item of retryAlone(planned)) {
      results.delete(item.id);
      await Promise.all(await run([item]));
    }
  }

  // The activity's throttling is counted once, with its last batch (written last, so the figures are complete).
  // When this is a second run of the activity (it runs at least once), the throttling the first run met was
  // real too: it is added to, not written over.
  const last = plans[plans.length - 1]!;
  const earlier = await vault.readJson<BatchResult>(layout.runBatchResult(runId, mailboxId, last.batch));
  const carried = earlier?.planVersion === planVersion ? earlier : undefined;
  const throttling = {
    responses: tally.throttledResponses + (carried?.throttledResponses ?? 0),
    waitInMs: tally.throttleWaitInMs + (carried?.throttleWaitInMs ?? 0),
  };
  await Promise.all(unsettled.map((planned) => writeResult(planned, planned === last ? throttling : noThrottling)));

  let stored = 0;
  let failed = 0;
  let bytes = 0;
  for (const result of plans.flatMap(outcome)) {
    if (result.ok) {
      stored++;
      bytes += result.length;
    } else failed++;
  }
  return { batch: first, stored, failed, bytes };
}
