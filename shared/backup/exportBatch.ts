import { errorCode, errorReason } from '../errors.js';
import {
  ExportStreamError,
  GraphRequestError,
  MailboxAccessDeniedError,
  type ExportedItem,
  type GraphLogger,
  type MailboxClient,
  type ThrottleTally,
} from '../graph/index.js';
import { layout } from '../vault/layout.js';
import type { StoredVersion, VaultStore } from '../vault/vaultStore.js';
import { IndexedNdjsonReader } from '../vault/indexedNdjson.js';
import { MovedItems } from './archives.js';
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

/**
 * Whether a multi-item call's failure is worth splitting: a break, a timeout or a 504 (a smaller answer may
 * well pass), or a 4xx one item may have caused (a malformed id fails the whole call). Authentication and
 * permission refusals concern the call, not its items.
 */
function splitsTheCall(error: unknown): boolean {
  if (error instanceof GraphRequestError)
    return error.status === 504 || (error.status >= 400 && error.status < 500 && ![401, 403].includes(error.status));
  return WHOLE_CALL_FAILURES.has(errorCode(error));
}

function failureOf(error: unknown): { code: string; message: string } {
  return { code: errorCode(error), message: error instanceof Error ? error.message : String(error) };
}

/**
 * One exportItems call for a planned batch, each item streamed into its write-once blob while it is hashed.
 * Per-item errors are recorded, not thrown. A batch that breaks as a whole, and items Graph left out or
 * failed transiently, are tried once more item by item. The outcome of every item goes to the run's folder,
 * so the activity can run again (at-least-once) without harm. `plans` reads the plan: the activity passes the
 * process's reader, which keeps plan indexes; the default reads the plan's index on every call.
 */
export async function exportBatch(
  client: MailboxClient,
  vault: VaultStore,
  input: ExportBatchInput,
  logger?: GraphLogger,
  plans: IndexedNdjsonReader = new IndexedNdjsonReader(vault),
): Promise<BatchSummary> {
  const { runId, mailboxId, batch: first, planVersion } = input;
  const batches = await readPlannedBatches(plans, runId, mailboxId, first, Math.max(1, input.count ?? 1), planVersion);
  const exporter = new BatchExporter(client, vault, input, batches, logger);
  await exporter.exportAll();
  await exporter.writeResults();
  return exporter.summary();
}

const NO_THROTTLING = { responses: 0, waitInMs: 0 };

/** The consecutive batches of one export activity: their calls, their uploads in flight, and every item's outcome. */
class BatchExporter {
  private readonly tally: ThrottleTally = { throttledResponses: 0, throttleWaitInMs: 0 };
  private readonly results = new Map<string, ItemResult>();
  private readonly plannedById: Map<string, PlannedItem>;
  /** Small items being written while the response moves on; bounded in count and bytes. */
  private readonly uploads = new Set<Promise<void>>();
  private uploadBytes = 0;
  /** Batches whose result waits for the end of the activity (items to retry alone, or the last batch). */
  private readonly unsettled: PlannedBatch[] = [];
  private readonly settling: Array<Promise<unknown>> = [];
  /** Items of multi-item calls that failed as a whole: each gets a call of its own. */
  private readonly split = new Set<string>();
  /** Graph refused the app this mailbox (a permission, an RBAC scope): no further call is made. */
  private refused: MailboxAccessDeniedError | undefined;

  constructor(
    private readonly client: MailboxClient,
    private readonly vault: VaultStore,
    private readonly input: ExportBatchInput,
    private readonly batches: PlannedBatch[],
    private readonly logger: GraphLogger | undefined,
  ) {
    this.plannedById = new Map(batches.flatMap((planned) => planned.items).map((item) => [item.id, item]));
  }

  /**
   * One call per batch, one after the other: the next call starts as soon as a response is read, while its
   * items are still being written. A batch whose items are all settled has its result written at once; one
   * with items to try again alone waits for those single-item calls, after the last batch.
   */
  async exportAll(): Promise<void> {
    const last = this.batches[this.batches.length - 1];
    for (const planned of this.batches) {
      if (this.refused) {
        for (const item of planned.items) this.fail(item.id, this.refused);
        this.unsettled.push(planned);
        continue;
      }
      const started = await this.exportCall(planned.items);
      this.settling.push(
        Promise.all(started).then(() => {
          if (this.retryAlone(planned).length > 0 || planned === last) this.unsettled.push(planned);
          else return this.writeResult(planned, NO_THROTTLING);
        }),
      );
    }
    await Promise.all(this.settling);
    if (this.refused) return;
    for (const planned of this.batches.filter((batch) => this.unsettled.includes(batch))) {
      for (const item of this.retryAlone(planned)) {
        this.results.delete(item.id);
        await Promise.all(await this.exportCall([item]));
      }
    }
  }

  /**
   * The activity's throttling is counted once, with its last batch (written last, so the figures are complete).
   * When this is a second run of the activity (it runs at least once), the throttling the first run met was
   * real too: it is added to, not written over.
   */
  async writeResults(): Promise<void> {
    const { runId, mailboxId, planVersion } = this.input;
    const last = this.batches[this.batches.length - 1]!;
    const earlier = await this.vault.readJson<BatchResult>(layout.runBatchResult(runId, mailboxId, last.batch));
    const carried = earlier?.planVersion === planVersion ? earlier : undefined;
    const throttling = {
      responses: this.tally.throttledResponses + (carried?.throttledResponses ?? 0),
      waitInMs: this.tally.throttleWaitInMs + (carried?.throttleWaitInMs ?? 0),
    };
    await Promise.all(
      this.unsettled.map((planned) => this.writeResult(planned, planned === last ? throttling : NO_THROTTLING)),
    );
  }

  summary(): BatchSummary {
    const summary: BatchSummary = { batch: this.input.batch, stored: 0, failed: 0, bytes: 0 };
    if (this.refused) summary.refused = errorReason(this.refused);
    for (const result of this.batches.flatMap((planned) => this.outcome(planned))) {
      if (result.ok) {
        summary.stored++;
        summary.bytes += result.length;
      } else summary.failed++;
    }
    return summary;
  }

  /**
   * One exportItems call; resolves when the response is read, with the uploads it left running. Items an
   * archive says live in an auxiliary mailbox are exported from there, `hops` counting how far this call is.
   */
  private async exportCall(
    items: PlannedItem[],
    mailboxId = this.input.mailboxId,
    hops = 0,
  ): Promise<Array<Promise<void>>> {
    const started: Array<Promise<void>> = [];
    const ids = items.map((item) => item.id);
    const moved = new MovedItems(this.client, hops);
    try {
      for await (const exported of this.client.exportItems(mailboxId, ids, { tally: this.tally })) {
        const plannedItem = this.plannedById.get(exported.itemId);
        if (!plannedItem) continue; // not asked for: ignore
        try {
          if (!moved.take(exported, plannedItem)) await this.store(exported, plannedItem, started);
        } catch (error) {
          if (error instanceof ExportStreamError) throw error; // the response broke under this item
          this.fail(exported.itemId, error);
        }
      }
      for (const [holder, group] of moved.byMailbox) started.push(...(await this.exportCall(group, holder, hops + 1)));
    } catch (error) {
      if (error instanceof MailboxAccessDeniedError) this.refused = error;
      // The whole call failed or broke off: whatever has no result yet is failed, and split off when worth it.
      const splitting = items.length > 1 && splitsTheCall(error);
      for (const item of items) {
        if (this.results.has(item.id)) continue;
        this.fail(item.id, error);
        if (splitting) this.split.add(item.id);
      }
      const next = splitting ? 'retrying its unfinished items one by one' : 'its unfinished items failed';
      this.logger?.warn(`exportBatch ${this.input.batch}: ${(error as Error).message}; ${next}`);
    }
    return started;
  }

  /**
   * Items that fit one block are read whole (bounded: block size × uploads in flight) and written while the
   * response moves on to the next item; larger ones stream straight into their blob. Without this, each
   * upload's round trip would hold the export response still.
   */
  private async store(item: ExportedItem, plannedItem: PlannedItem, started: Array<Promise<void>>): Promise<void> {
    if (!item.data) {
      this.results.set(item.itemId, { id: item.itemId, ok: false, code: item.error.code, message: item.error.message });
      return;
    }
    const head = item.bytes
      ? { buffer: item.bytes, ended: true as const }
      : await readUpTo(item.data, this.vault.singleRequestLimit + 1);
    // The version blob is named after the changeKey planned; Graph's answer wins if the item changed since.
    const blobName = layout.itemVersion(this.input.mailboxId, item.itemId, item.changeKey ?? plannedItem.changeKey);
    if (head.ended) {
      await this.roomForUpload(head.buffer.length);
      started.push(this.startUpload(item.itemId, blobName, head.buffer));
    } else
      this.recordStored(item.itemId, await this.vault.writeItemVersion(blobName, continueWith(head.buffer, head.rest)));
  }

  private async roomForUpload(length: number): Promise<void> {
    while (
      this.uploads.size >= PARALLEL_UPLOADS ||
      (this.uploads.size > 0 && this.uploadBytes + length > PARALLEL_UPLOAD_BYTES)
    )
      await Promise.race(this.uploads);
  }

  /** A whole item's upload, counted among the uploads in flight until it ends. */
  private startUpload(itemId: string, blobName: string, bytes: Buffer): Promise<void> {
    this.uploadBytes += bytes.length;
    const upload = this.vault
      .writeItemVersion(blobName, bytes)
      .then(
        (stored) => this.recordStored(itemId, stored),
        (error: unknown) => this.fail(itemId, error),
      )
      .finally(() => {
        this.uploads.delete(upload);
        this.uploadBytes -= bytes.length;
      });
    this.uploads.add(upload);
    return upload;
  }

  private recordStored(itemId: string, stored: StoredVersion): void {
    const { blobName: blob, sha256, length, written } = stored;
    this.results.set(itemId, { id: itemId, ok: true, blob, sha256, length, written });
  }

  private fail(itemId: string, error: unknown): void {
    this.results.set(itemId, { id: itemId, ok: false, ...failureOf(error) });
  }

  private retryAlone(planned: PlannedBatch): PlannedItem[] {
    return planned.items.filter((item) => {
      const result = this.results.get(item.id);
      if (!result || result.ok) return false;
      return RETRY_ALONE.has(result.code) || this.split.has(item.id);
    });
  }

  private outcome(planned: PlannedBatch): ItemResult[] {
    return planned.items.map(
      (item) =>
        this.results.get(item.id) ?? { id: item.id, ok: false, code: 'NotExported', message: 'No outcome recorded' },
    );
  }

  private async writeResult(planned: PlannedBatch, throttling: { responses: number; waitInMs: number }): Promise<void> {
    const { runId, mailboxId, planVersion } = this.input;
    await this.vault.writeJson(layout.runBatchResult(runId, mailboxId, planned.batch), {
      batch: planned.batch,
      planVersion,
      results: this.outcome(planned),
      throttledResponses: throttling.responses,
      throttleWaitInMs: throttling.waitInMs,
    } satisfies BatchResult);
  }
}
