import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { once } from 'node:events';
import { Base64Decoder } from './base64Stream.js';
import { ExportStreamError } from './errors.js';
import { JsonTokenizer, type JsonEvent } from './jsonTokenizer.js';
import type { ExportError, ExportedItem } from './types.js';

export interface ExportReaderOptions {
  /** Abort the response when no byte arrives for this long. */
  idleTimeoutInMs: number;
  signal?: AbortSignal;
}

/** Items of one response, handed to the consumer one at a time; `put` resolves once the item is taken. */
class ItemQueue {
  private readonly entries: Array<{ item: ExportedItem; taken: () => void }> = [];
  private failure: unknown;
  private closed = false;
  private wake: (() => void) | undefined;

  put(item: ExportedItem): Promise<void> {
    return new Promise<void>((taken) => {
      this.entries.push({ item, taken });
      this.wake?.();
    });
  }

  close(failure?: unknown): void {
    this.closed = true;
    this.failure ??= failure;
    for (const entry of this.entries.splice(0)) entry.taken();
    this.wake?.();
  }

  async take(): Promise<ExportedItem | undefined> {
    for (;;) {
      const entry = this.entries.shift();
      if (entry) {
        entry.taken();
        return entry.item;
      }
      if (this.closed) {
        if (this.failure) throw this.failure;
        return undefined;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

/** Where the string value after an item's key goes. */
type ItemField = 'itemId' | 'changeKey' | 'data' | 'error' | 'ignore';

/** One entry of the response's `value` array, from its `{` to its `}`. */
interface ItemState {
  itemId?: string;
  changeKey?: string;
  errorCode?: string;
  errorMessage?: string;
  sawData: boolean;
  decoder?: Base64Decoder;
  /** Bytes of an item not yet handed over: it goes as a whole if it ends within HOLD_LIMIT, else as a stream. */
  held?: Buffer[];
  heldBytes: number;
  /** Live stream handed to the consumer (itemId known before data began). */
  stream?: PassThrough;
  /** Spool used when `data` arrives before `itemId` (key order is not guaranteed by Graph). */
  spool?: Spool;
}

interface Spool {
  dir: string;
  path: string;
  file: WriteStream;
}

/**
 * Items up to this size are handed over whole once their entry ends (a stream per item costs more CPU than
 * a small item's bytes); a larger one is handed over as a stream as soon as it passes this size.
 */
const HOLD_LIMIT = 256 * 1024;

async function* whole(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/**
 * Reads an exportItems response body as a stream and yields each item as soon as its `data` begins, with the
 * bytes decoded from base64 as they arrive. Memory stays at a few chunks whatever the item sizes.
 * Items asked for but missing from the response are yielded last as per-item errors (`NotReturned`).
 */
export async function* readExportResponse(
  body: ReadableStream<Uint8Array> | Readable,
  requestedIds: readonly string[],
  options: ExportReaderOptions,
): AsyncGenerator<ExportedItem> {
  const queue = new ItemQueue();
  const abort = new AbortController();
  const pump = new ExportResponsePump(queue, abort.signal);
  const pumping = pump.run(body, options);
  try {
    for (;;) {
      const item = await queue.take();
      if (!item) break;
      yield item;
      // The consumer moved on: if it left the stream unread, throw the rest away.
      if (item.data instanceof PassThrough && !item.data.readableEnded) item.data.resume();
    }
    await pumping;
    for (const id of requestedIds) {
      if (!pump.returnedIds.has(id))
        yield {
          itemId: id,
          error: { code: 'NotReturned', message: 'Graph did not return this item in the export response' },
        };
    }
  } finally {
    abort.abort();
    // Items queued but never taken (the consumer left early) must not keep the pump waiting for ever.
    queue.close();
    await pumping.catch(() => undefined);
  }
}

/**
 * Reads the response body into the tokenizer and turns its events into items on the queue. The JSON is read
 * by depth: 1 the response object, 2 its `value` array, 3 an item, 4 an item's `error` object. Everything
 * else (unknown nested values, other top-level keys) is skipped.
 */
class ExportResponsePump {
  /** Ids of the entries the response carried, with data or with an error. */
  readonly returnedIds = new Set<string>();
  private readonly tokenizer = new JsonTokenizer((event, value) => this.onEvent(event, value));
  /** Hand-overs to wait for before the next chunk is read: the consumer takes one item at a time. */
  private readonly pending: Array<Promise<void>> = [];
  private depth = 0;
  /** The last key of the response object: items are the entries of its `value` array. */
  private topKey: string | undefined;
  private inValueArray = false;
  /** Above 0 while skipping an unknown nested value inside an item: the depth within that value. */
  private skipDepth = 0;
  private item: ItemState | undefined;
  /** The field of the item whose value is being read. */
  private itemField: ItemField | undefined;
  /** The key being read inside an item's `error` object, lower-cased. */
  private errorKey: string | undefined;
  /** The short string value being read (an id, a change key, an error's code or message). */
  private text = '';

  constructor(
    private readonly queue: ItemQueue,
    private readonly stop: AbortSignal,
  ) {}

  async run(body: ReadableStream<Uint8Array> | Readable, options: ExportReaderOptions): Promise<void> {
    const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const watch = new ReadWatch(options.idleTimeoutInMs, options.signal, this.stop);
    try {
      for (;;) {
        const next = await watch.next(iterator.next());
        if (next.done) break;
        this.tokenizer.write(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
        while (this.pending.length) await this.pending.shift();
        const sink = this.item?.stream ?? this.item?.spool?.file;
        if (sink?.writableNeedDrain) await this.drained(sink);
      }
      this.tokenizer.end();
      while (this.pending.length) await this.pending.shift();
      this.queue.close();
    } catch (error) {
      await this.fail(error);
      // Not awaited: a stream iterator's return() waits for the read in progress, which a stalled connection
      // never ends. The caller aborts the request, which settles it (see MailboxClient.exportItems).
      iterator.return?.().catch(() => undefined);
    } finally {
      watch.dispose();
    }
  }

  /** Backpressure: waits while the consumer (or the spool file) has not taken what it was given. */
  private drained(sink: PassThrough | WriteStream): Promise<unknown> {
    // `once` with the signal removes its abort listener again: a large item waits here thousands of times.
    return once(sink, 'drain', { signal: this.stop }).catch((error: unknown) => {
      if (!this.stop.aborted) throw error; // abandoned: the next read reports it
    });
  }

  /** The response broke off, did not parse or was abandoned: the item in progress and the queue fail with it. */
  private async fail(error: unknown): Promise<void> {
    const failure = this.stop.aborted
      ? new ExportStreamError('The export response was abandoned')
      : error instanceof ExportStreamError
        ? error
        : new ExportStreamError(`The export response broke off: ${(error as Error).message}`, { cause: error });
    this.item?.stream?.destroy(failure);
    if (this.item?.spool) {
      this.item.spool.file.destroy();
      await rm(this.item.spool.dir, { recursive: true, force: true });
    }
    this.queue.close(failure);
  }

  private onEvent(event: JsonEvent, value?: string | number | boolean | null): void {
    if (this.skipDepth > 0) {
      this.skipNested(event);
      return;
    }
    switch (event) {
      case 'startObject':
        return this.onStartObject();
      case 'endObject':
        return this.onEndObject();
      case 'startArray':
        return this.onStartArray();
      case 'endArray':
        return this.onEndArray();
      case 'key':
        return this.onKey(String(value));
      case 'stringChunk':
        return this.onStringChunk(String(value));
      case 'stringEnd':
        return this.onStringEnd();
      case 'primitive':
        return this.onPrimitive();
    }
  }

  private skipNested(event: JsonEvent): void {
    if (event === 'startObject' || event === 'startArray') this.skipDepth++;
    else if (event === 'endObject' || event === 'endArray') this.skipDepth--;
  }

  /** Skips the object or array just opened inside an item: nothing in it is read. */
  private skipValue(): void {
    this.skipDepth = 1;
    this.depth--;
  }

  private onStartObject(): void {
    this.depth++;
    if (this.inValueArray && this.depth === 3) this.item = { sawData: false, heldBytes: 0 };
    else if (this.item && this.depth === 4 && this.itemField === 'error') this.errorKey = undefined;
    else if (this.item && this.depth >= 4) this.skipValue();
  }

  private onEndObject(): void {
    if (this.item && this.depth === 3) this.finishItem(this.item);
    if (this.depth === 4) this.itemField = undefined;
    this.depth--;
  }

  private onStartArray(): void {
    this.depth++;
    if (this.depth === 2 && this.topKey === 'value') this.inValueArray = true;
    else if (this.item) this.skipValue();
  }

  private onEndArray(): void {
    if (this.depth === 2) this.inValueArray = false;
    this.depth--;
  }

  private onKey(key: string): void {
    if (this.depth === 1) {
      this.topKey = key;
      return;
    }
    if (!this.item) return;
    this.text = '';
    if (this.depth === 4) {
      this.errorKey = key.toLowerCase();
      return;
    }
    // Graph has spelled the per-item error `Error` as well as `error`: match keys case-insensitively.
    const field = key.toLowerCase();
    if (field === 'itemid') this.itemField = 'itemId';
    else if (field === 'changekey') this.itemField = 'changeKey';
    else if (field === 'error') this.itemField = 'error';
    else if (field === 'data') {
      this.itemField = 'data';
      this.startData(this.item);
    } else this.itemField = 'ignore';
  }

  private onStringChunk(chunk: string): void {
    if (!this.item) return;
    if (this.depth === 4) {
      if (this.errorKey === 'code' || this.errorKey === 'message') this.text += chunk;
      return;
    }
    if (this.itemField === 'data') this.writeData(this.item, chunk);
    else if (this.itemField === 'itemId' || this.itemField === 'changeKey') this.text += chunk;
  }

  private onStringEnd(): void {
    const item = this.item;
    if (!item) return;
    if (this.depth === 4) {
      if (this.errorKey === 'code') item.errorCode = this.text;
      if (this.errorKey === 'message') item.errorMessage = this.text;
    } else {
      if (this.itemField === 'itemId') item.itemId = this.text;
      else if (this.itemField === 'changeKey') item.changeKey = this.text;
      else if (this.itemField === 'data') item.decoder?.end();
      this.itemField = undefined;
    }
    this.text = '';
  }

  private onPrimitive(): void {
    if (this.depth !== 3) return;
    if (this.item && this.itemField === 'data') this.item.sawData = false; // "data": null
    this.itemField = undefined;
  }

  private startData(item: ItemState): void {
    item.sawData = true;
    item.decoder = new Base64Decoder();
    if (item.itemId !== undefined) {
      item.held = [];
      item.heldBytes = 0;
    } else {
      // Rare path (Graph has always sent itemId first): keep memory bounded by spooling to a temp file.
      const dir = mkdtempSync(join(tmpdir(), 'mailbox-vault-export-'));
      const path = join(dir, 'item');
      item.spool = { dir, path, file: createWriteStream(path) };
    }
  }

  private writeData(item: ItemState, chunk: string): void {
    const bytes = item.decoder!.push(chunk);
    if (bytes.length === 0) return;
    if (item.held) {
      item.held.push(bytes);
      item.heldBytes += bytes.length;
      if (item.heldBytes > HOLD_LIMIT) this.streamHeld(item);
    } else if (item.stream) item.stream.write(bytes);
    else item.spool?.file.write(bytes);
  }

  /** The item outgrew HOLD_LIMIT: hand it over now, as a stream that continues with the bytes to come. */
  private streamHeld(item: ItemState): void {
    const stream = new PassThrough({ highWaterMark: 256 * 1024 });
    for (const bytes of item.held!) stream.write(bytes);
    item.held = undefined;
    item.stream = stream;
    this.pending.push(
      this.queue.put({
        itemId: item.itemId!,
        // Read when the consumer asks: a `changeKey` after `data` is only known once the stream has ended.
        get changeKey() {
          return item.changeKey;
        },
        data: stream,
      } as ExportedItem),
    );
  }

  /** The item's entry ended: hand over what it holds (its bytes, the end of its stream, or its error). */
  private finishItem(item: ItemState): void {
    this.item = undefined;
    const itemId = item.itemId;
    if (itemId === undefined) return; // an entry without an id cannot be matched to a request
    this.returnedIds.add(itemId);
    if (item.sawData && item.held) {
      const bytes = Buffer.concat(item.held, item.heldBytes);
      item.held = undefined;
      this.pending.push(this.queue.put({ itemId, changeKey: item.changeKey, data: whole(bytes), bytes }));
    } else if (item.sawData && item.stream) {
      item.stream.end();
    } else if (item.sawData && item.spool) {
      this.pending.push(this.handOverSpool(itemId, item, item.spool));
    } else {
      this.pending.push(this.queue.put({ itemId, error: itemError(item) }));
    }
  }

  /** Hands a spooled item over as a stream of its file once the file is written; the file goes when read. */
  private async handOverSpool(itemId: string, item: ItemState, spool: Spool): Promise<void> {
    spool.file.end();
    await once(spool.file, 'finish');
    const data = createReadStream(spool.path);
    data.once('close', () => void rm(spool.dir, { recursive: true, force: true }));
    await this.queue.put({ itemId, changeKey: item.changeKey, data });
  }
}

/** The error an entry without data reports: Graph's own, else why there is none. */
function itemError(item: ItemState): ExportError {
  return {
    code: item.errorCode ?? (item.sawData ? 'ExportFailed' : 'NoData'),
    message:
      item.errorMessage ??
      (item.sawData ? 'The export failed' : 'Graph returned neither data nor an error for this item'),
  };
}

/**
 * Bounds each read of the body: it fails when nothing arrives for `idleMs` or when the read is abandoned. One
 * timer, re-armed per chunk, and one pair of abort listeners for the whole response (a timer and listeners
 * per chunk cost more CPU than decoding the chunk).
 */
class ReadWatch {
  private readonly timer: NodeJS.Timeout;
  private reject: ((error: unknown) => void) | undefined;
  private readonly onAbort = () =>
    this.reject?.(
      this.signal?.aborted ? this.signal.reason : new ExportStreamError('The export response was abandoned'),
    );

  constructor(
    idleMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly stop: AbortSignal,
  ) {
    this.timer = setTimeout(() => this.reject?.(new ExportStreamError(`No data from Graph for ${idleMs} ms`)), idleMs);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    stop.addEventListener('abort', this.onAbort, { once: true });
  }

  next<T>(read: Promise<T>): Promise<T> {
    if (this.signal?.aborted || this.stop.aborted) {
      read.catch(() => undefined);
      return Promise.reject(
        this.signal?.aborted ? this.signal.reason : new ExportStreamError('The export response was abandoned'),
      );
    }
    this.timer.refresh();
    return new Promise<T>((resolve, reject) => {
      this.reject = reject;
      read.then(
        (value) => {
          this.reject = undefined;
          resolve(value);
        },
        (error: unknown) => {
          this.reject = undefined;
          reject(error);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.stop.removeEventListener('abort', this.onAbort);
  }
}
