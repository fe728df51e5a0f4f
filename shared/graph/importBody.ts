import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Base64EncodeStream } from './base64Stream.js';
import { ImportLengthMismatchError } from './errors.js';
import type { ImportItemRequest } from './mailboxClient.js';

/** The body's closing: the end of the base64 string, then of the object. */
const SUFFIX = Buffer.from('"}');

/**
 * The body of an import POST, `{"FolderId","Mode","Data":"<base64>"}`, streamed as the item's bytes are read,
 * so an item of any size passes with a fixed memory ceiling. Its exact length is known before a byte is sent
 * (Exchange wants a Content-Length, not a chunked body). Each `open()` reads the item again from its source:
 * a POST that must be re-sent sends the whole body anew.
 */
export class ImportBody {
  /** Why the source of the latest `open()` failed (say a checksum mismatch), if it did. */
  sourceError: unknown;
  /** The body's length in bytes: the Content-Length of the POST. */
  readonly contentLength: number;
  private readonly prefix: Buffer;

  /** Throws a TypeError when the request's ids do not fit its mode, or its length is not a byte count. */
  constructor(private readonly request: ImportItemRequest) {
    const mode = request.mode ?? 'create';
    if (mode === 'update' && (!request.itemId || !request.changeKey)) {
      throw new TypeError('importItem: update mode needs itemId and changeKey');
    }
    if (mode === 'create' && (request.itemId || request.changeKey)) {
      throw new TypeError('importItem: create mode takes no itemId or changeKey');
    }
    if (!Number.isSafeInteger(request.length) || request.length < 0) {
      throw new TypeError("importItem: length must be the item's size in bytes");
    }
    const head: Record<string, string> = { FolderId: request.folderId, Mode: mode };
    if (mode === 'update') Object.assign(head, { ItemId: request.itemId, ChangeKey: request.changeKey });
    // Bytes, not characters: JSON.stringify escapes quotes and controls but leaves other characters as UTF-8.
    this.prefix = Buffer.from(`${JSON.stringify(head).slice(0, -1)},"Data":"`, 'utf8');
    // Base64 turns each started group of 3 bytes into 4 characters, padding included.
    this.contentLength = this.prefix.length + 4 * Math.ceil(request.length / 3) + SUFFIX.length;
  }

  open(): Readable {
    // pipeline, not pipe: a failing source (a checksum mismatch, a length other than declared) must fail the
    // body and so abort the POST before its closing quote, so a damaged item is never imported.
    const encoded = new Base64EncodeStream();
    this.sourceError = undefined;
    pipeline(this.request.openData(), new ExactLength(this.request.length), encoded).catch(
      (error: unknown) => (this.sourceError = error),
    );
    return Readable.from(this.parts(encoded), { objectMode: false });
  }

  private async *parts(encoded: Base64EncodeStream): AsyncGenerator<Buffer> {
    yield this.prefix;
    for await (const chunk of encoded) yield chunk as Buffer;
    yield SUFFIX;
  }
}

/** Passes bytes through, failing as soon as they outrun the declared length, or at their end if they fall short. */
class ExactLength extends Transform {
  private seen = 0;

  constructor(private readonly declared: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.declared) callback(new ImportLengthMismatchError(this.declared, this.seen));
    else callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.seen === this.declared ? null : new ImportLengthMismatchError(this.declared, this.seen));
  }
}
