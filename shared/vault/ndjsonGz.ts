import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { ContainerClient } from '@azure/storage-blob';
import { isStatus } from './restStatus.js';

/** What NDJSON writes gather before handing text to gzip (characters). */
const NDJSON_PIECE_CHARS = 64 * 1024;

/** Writes records as a gzip NDJSON blob from an async source, never holding the whole file. Returns its SHA-256. */
export async function writeNdjsonGzBlob(
  container: ContainerClient,
  blobName: string,
  records: AsyncIterable<unknown> | Iterable<unknown>,
): Promise<{ sha256: string; count: number }> {
  const hash = createHash('sha256');
  const counted = { count: 0 };
  const hashed = hashingPassThrough(hash);
  const upload = container.getBlockBlobClient(blobName).uploadStream(hashed, 1024 * 1024, 2, {
    blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
  });
  await Promise.all([pipeline(Readable.from(ndjsonPieces(records, counted)), createGzip(), hashed), upload]);
  return { sha256: hash.digest('hex'), count: counted.count };
}

/**
 * Lines go to gzip in pieces of about 64 KB: a stream chunk per record meant a compression call on libuv's pool,
 * a hash update and a stream hop for each of a mailbox's thousands of plan and manifest records.
 */
async function* ndjsonPieces(
  records: AsyncIterable<unknown> | Iterable<unknown>,
  counted: { count: number },
): AsyncGenerator<string> {
  let pending = '';
  for await (const record of records as AsyncIterable<unknown>) {
    counted.count++;
    pending += `${JSON.stringify(record)}\n`;
    if (pending.length >= NDJSON_PIECE_CHARS) {
      yield pending;
      pending = '';
    }
  }
  if (pending) yield pending;
}

/** Hashes the compressed bytes on their way to the upload, so the file's SHA-256 needs no second read. */
function hashingPassThrough(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
}

/**
 * Reads a gzip NDJSON blob record by record; an absent blob reads as empty when `missingOk`. `skipRecords` passes
 * over the first records without parsing them (a reader resuming in a stream that has no index).
 */
export async function* readNdjsonGzBlob<T>(
  container: ContainerClient,
  blobName: string,
  options: { missingOk?: boolean; offset?: number; skipRecords?: number },
): AsyncGenerator<T> {
  let body: Readable;
  try {
    const response = await container.getBlockBlobClient(blobName).download(options.offset ?? 0);
    body = response.readableStreamBody as Readable;
  } catch (error) {
    if (options.missingOk && isStatus(error, 404)) return;
    throw error;
  }
  const gunzip = createGunzip();
  body.on('error', (e) => gunzip.destroy(e));
  body.pipe(gunzip);
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let toSkip = options.skipRecords ?? 0;
  try {
    for await (const chunk of gunzip) {
      const text = carry + decoder.write(chunk as Buffer);
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        if (toSkip > 0) toSkip--;
        else yield JSON.parse(line) as T;
      }
    }
    carry += decoder.end();
    if (carry && toSkip === 0) yield JSON.parse(carry) as T;
  } finally {
    // A reader that stops early (a commit slice at its budget, a browse page) frees the download's socket.
    body.destroy();
  }
}
