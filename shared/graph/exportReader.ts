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
import type { ExportedItem } from './types.js';

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
  spool?: { dir: string; path: string; file: WriteStream };
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
  const seen = new Set<string>();
  const abort = new AbortController();
  const pump = pumpResponse(body, queue, seen, options, abort.signal);
  try {
    for (;;) {
      const item = await queue.take();
      if (!item) break;
      yield item;
      // The consumer moved on: if it left the stream unread, throw the rest away.
      if (item.data instanceof PassThrough && !item.data.readableEnded) item.data.resume();
    }
    await pump;
    for (const id of requestedIds) {
      if (!seen.has(id))
        yield {
          itemId: id,
          error: { code: 'NotReturned', message: 'Graph did not return this item in the export response' },
        };
    }
  } finally {
    abort.abort();
    // Items queued but never taken (the consumer left early) must not keep the pump waiting for ever.
    queue.close();
    await pump.catch(() => undefined);
  }
}

async function pumpResponse(
  body: ReadableStream<Uint8Array> | Readable,
  queue: ItemQueue,
  seen: Set<string>,
  options: ExportReaderOptions,
  stop: AbortSignal,
): Promise<void> {
  let depth = 0;
  let topKey: string | undefined;
  let inValueArray = false;
  let item: ItemState | undefined;
  let errorKey: string | undefined;
  let skipDepth = 0; // > 0 while skipping an unknown nested value inside an item
  let stringTarget: 'itemId' | 'changeKey' | 'data' | 'error' | 'ignore' | undefined;
  let stringBuffer = '';
  const pending: Array<Promise<void>> = [];

  const finishItem = (state: ItemState): void => {
    const itemId = state.itemId;
    if (itemId === undefined) return; // an entry without an id cannot be matched to a request
    seen.add(itemId);
    if (state.sawData && state.held) {
      const bytes = Buffer.concat(state.held, state.heldBytes);
      state.held = undefined;
      pending.push(queue.put({ itemId, changeKey: state.changeKey, data: whole(bytes), bytes }));
      return;
    }
    if (state.sawData && state.stream) {
      state.stream.end();
      return;
    }
    if (state.sawData && state.spool) {
      const spool = state.spool;
      pending.push(
        (async () => {
          spool.file.end();
          await once(spool.file, 'finish');
          const data = createReadStream(spool.path);
          data.once('close', () => void rm(spool.dir, { recursive: true, force: true }));
          await queue.put({ itemId, changeKey: state.changeKey, data });
        })(),
      );
      return;
    }
    const code = state.errorCode ?? (state.sawData ? 'ExportFailed' : 'NoData');
    const message =
      state.errorMessage ??
      (state.sawData ? 'The export failed' : 'Graph returned neither data nor an error for this item');
    pending.push(queue.put({ itemId, error: { code, message } }));
  };

  // Depths: 1 the response object, 2 its `value` array, 3 an item, 4 an item's `error` object.
  const onEvent = (event: JsonEvent, value?: string | number | boolean | null): void => {
    if (skipDepth > 0) {
      if (event === 'startObject' || event === 'startArray') skipDepth++;
      else if (event === 'endObject' || event === 'endArray') skipDepth--;
      else if (event === 'primitive' || event === 'stringEnd') {
        /* part of the skipped value */
      }
      return;
    }
    switch (event) {
      case 'startObject':
        depth++;
        if (inValueArray && depth === 3) item = { sawData: false, heldBytes: 0 };
        else if (item && depth === 4 && stringTarget === 'error') errorKey = undefined;
        else if (item && depth >= 4) {
          skipDepth = 1;
          depth--;
        }
        return;
      case 'endObject':
        if (item && depth === 3) {
          finishItem(item);
          item = undefined;
        }
        if (depth === 4) stringTarget = undefined;
        depth--;
        return;
      case 'startArray':
        depth++;
        if (depth === 2 && topKey === 'value') inValueArray = true;
        else if (item) {
          skipDepth = 1;
          depth--;
        }
        return;
      case 'endArray':
        if (depth === 2) inValueArray = false;
        depth--;
        return;
      case 'key': {
        const key = String(value);
        if (depth === 1) {
          topKey = key;
          return;
        }
        if (!item) return;
        if (depth === 4) {
          errorKey = key.toLowerCase();
          stringBuffer = '';
          return;
        }
        // Graph has spelled the per-item error `Error` as well as `error`: match keys case-insensitively.
        const lower = key.toLowerCase();
        stringBuffer = '';
        if (lower === 'itemid') stringTarget = 'itemId';
        else if (lower === 'changekey') stringTarget = 'changeKey';
        else if (lower === 'error') stringTarget = 'error';
        else if (lower === 'data') {
          stringTarget = 'data';
          startData(item);
        } else stringTarget = 'ignore';
        return;
      }
      case 'stringChunk': {
        const text = String(value);
        if (!item) return;
        if (depth === 4) {
          if (errorKey === 'code' || errorKey === 'message') stringBuffer += text;
          return;
        }
        if (stringTarget === 'data') writeData(item, text);
        else if (stringTarget === 'itemId' || stringTarget === 'changeKey') stringBuffer += text;
        return;
      }
      case 'stringEnd':
        if (!item) return;
        if (depth === 4) {
          if (errorKey === 'code') item.errorCode = stringBuffer;
          if (errorKey === 'message') item.errorMessage = stringBuffer;
          stringBuffer = '';
          return;
        }
        if (stringTarget === 'itemId') item.itemId = stringBuffer;
        else if (stringTarget === 'changeKey') item.changeKey = stringBuffer;
        else if (stringTarget === 'data') item.decoder?.end();
        stringTarget = undefined;
        stringBuffer = '';
        return;
      case 'primitive':
        if (item && depth === 3 && stringTarget === 'data') item.sawData = false; // "data": null
        if (depth === 3) stringTarget = undefined;
        return;
    }
  };

  const startData = (state: ItemState): void => {
    state.sawData = true;
    state.decoder = new Base64Decoder();
    if (state.itemId !== undefined) {
      state.held = [];
      state.heldBytes = 0;
    } else {
      spoolItem(state);
    }
  };

  /** The item outgrew HOLD_LIMIT: hand it over now, as a stream that continues with the bytes to come. */
  const streamHeld = (state: ItemState): void => {
    const stream = new PassThrough({ highWaterMark: 256 * 1024 });
    for (const bytes of state.held!) stream.write(bytes);
    state.held = undefined;
    state.stream = stream;
    pending.push(
      queue.put({
        itemId: state.itemId!,
        get changeKey() {
          return state.changeKey;
        },
        data: stream,
      } as ExportedItem),
    );
  };

  const writeData = (state: ItemState, text: string): void => {
    const bytes = state.decoder!.push(text);
    if (bytes.length === 0) return;
    if (state.held) {
      state.held.push(bytes);
      state.heldBytes += bytes.length;
      if (state.heldBytes > HOLD_LIMIT) streamHeld(state);
    } else if (state.stream) state.stream.write(bytes);
    else state.spool?.file.write(bytes);
  };

  const spoolItem = (state: ItemState): void => {
    // Rare path (Graph has always sent itemId first): keep memory bounded by spooling to a temp file.
    const dir = mkdtempSync(join(tmpdir(), 'mailbox-vault-export-'));
    const path = join(dir, 'item');
    state.spool = { dir, path, file: createWriteStream(path) };
  };

  const tokenizer = new JsonTokenizer(onEvent);
  const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const watch = new ReadWatch(options.idleTimeoutInMs, options.signal, stop);
  try {
    for (;;) {
      const next = await watch.next(iterator.next());
      if (next.done) break;
      tokenizer.write(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
      while (pending.length) await pending.shift();
      const sink = item?.stream ?? item?.spool?.file;
      // Backpressure: wait while the consumer (or the spool file) has not taken what we gave it.
      // (`once` with the signal removes its abort listener again: a large item waits here thousands of times.)
      if (sink?.writableNeedDrain) {
        await once(sink, 'drain', { signal: stop }).catch((error: unknown) => {
          if (!stop.aborted) throw error; // abandoned: the next read reports it
        });
      }
    }
    tokenizer.end();
    while (pending.length) await pending.shift();
    queue.close();
  } catch (error) {
    const failure = stop.aborted
      ? new ExportStreamError('The export response was abandoned')
      : error instanceof ExportStreamError
        ? error
        : new ExportStreamError(`The export response broke off: ${(error as Error).message}`, { cause: error });
    item?.stream?.destroy(failure);
    if (item?.spool) {
      item.spool.file.destroy();
      await rm(item.spool.dir, { recursive: true, force: true });
    }
    queue.close(failure);
    // Not awaited: a stream iterator's return() waits for the read in progress, which a stalled connection
    // never ends. The caller aborts the request, which settles it (see MailboxClient.exportItems).
    iterator.return?.().catch(() => undefined);
  } finally {
    watch.dispose();
  }
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
