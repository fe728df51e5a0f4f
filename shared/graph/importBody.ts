import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Base64EncodeStream } from './base64Stream.js';
import type { ImportItemRequest } from './mailboxClient.js';

/**
 * The body of an import POST, `{"FolderId","Mode","Data":"<base64>"}`, streamed as the item's bytes are read,
 * so an item of any size passes with a fixed memory ceiling. Each `open()` reads the item again from its
 * source: a POST that must be re-sent sends the whole body anew.
 */
export class ImportBody {
  /** Why the source of the latest `open()` failed (say a checksum mismatch), if it did. */
  sourceError: unknown;
  private readonly prefix: string;

  /** Throws a TypeError when the request's ids do not fit its mode. */
  constructor(private readonly request: ImportItemRequest) {
    const mode = request.mode ?? 'create';
    if (mode === 'update' && (!request.itemId || !request.changeKey)) {
      throw new TypeError('importItem: update mode needs itemId and changeKey');
    }
    if (mode === 'create' && (request.itemId || request.changeKey)) {
      throw new TypeError('importItem: create mode takes no itemId or changeKey');
    }
    const head: Record<string, string> = { FolderId: request.folderId, Mode: mode };
    if (mode === 'update') Object.assign(head, { ItemId: request.itemId, ChangeKey: request.changeKey });
    this.prefix = `${JSON.stringify(head).slice(0, -1)},"Data":"`;
  }

  /** The body's length for an item of `dataLength` bytes (base64 turns each 3 bytes into 4 characters). */
  length(dataLength: number): number {
    return this.prefix.length + 4 * Math.ceil(dataLength / 3) + 2;
  }

  open(): Readable {
    // pipeline, not pipe: a failing source (a checksum mismatch) must fail the body and so abort the POST
    // before its closing quote, so a damaged item is never imported.
    const encoded = new Base64EncodeStream();
    this.sourceError = undefined;
    pipeline(this.request.openData(), encoded).catch((error: unknown) => (this.sourceError = error));
    return Readable.from(this.parts(encoded), { objectMode: false });
  }

  private async *parts(encoded: Base64EncodeStream): AsyncGenerator<Buffer> {
    yield Buffer.from(this.prefix);
    for await (const chunk of encoded) yield chunk as Buffer;
    yield Buffer.from('"}');
  }
}
