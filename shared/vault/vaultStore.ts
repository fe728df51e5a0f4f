import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { RestError, type BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { createBlobRequests, type GetBlob, type PutBlob } from './blobRequests.js';
import { ItemVersions, type StoredVersion } from './itemVersions.js';
import { isStatus } from './restStatus.js';

export { VersionConflictError, type StoredVersion } from './itemVersions.js';

/** What NDJSON writes gather before handing text to gzip (characters). */
const NDJSON_PIECE_CHARS = 64 * 1024;

export interface VaultStoreOptions {
  /** Block size for item uploads; memory per upload is about blockSize × blockConcurrency. */
  blockSizeInBytes?: number;
  blockConcurrency?: number;
}

/**
 * The vault's blob container: write-once item versions (written by `ItemVersions`, the SHA-256 landing in the
 * blob's metadata), JSON records, and gzip NDJSON streams for manifests.
 */
export class VaultStore {
  readonly container: ContainerClient;
  private readonly putBlob: PutBlob;
  private readonly getBlob: GetBlob;
  private readonly itemVersions: ItemVersions;

  constructor(service: BlobServiceClient, containerName: string, options: VaultStoreOptions = {}) {
    this.container = service.getContainerClient(containerName);
    ({ put: this.putBlob, get: this.getBlob } = createBlobRequests(this.container));
    const blockSize = options.blockSizeInBytes ?? 4 * 1024 * 1024;
    this.itemVersions = new ItemVersions(this.container, this.putBlob, blockSize, options.blockConcurrency ?? 2);
  }

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  /**
   * Streams one exported item into its write-once blob, its SHA-256 and size recorded at commit. If it already
   * exists (a retry), its recorded hash must match, or this throws `VersionConflictError`.
   */
  writeItemVersion(blobName: string, data: Buffer | AsyncIterable<Buffer> | Iterable<Buffer>): Promise<StoredVersion> {
    return this.itemVersions.write(blobName, data);
  }

  /** Block size: items up to this size are written with one request. */
  get singleRequestLimit(): number {
    return this.itemVersions.blockSize;
  }

  /** Recorded hash and size of a stored version, or undefined when it is not in the vault. */
  getItemVersion(blobName: string): Promise<{ sha256: string; length: number } | undefined> {
    return this.itemVersions.read(blobName);
  }

  openItemVersion(blobName: string, signal?: AbortSignal): Promise<Readable> {
    return this.itemVersions.open(blobName, signal);
  }

  async writeJson(blobName: string, value: unknown, options: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
    const text = JSON.stringify(value, null, 1);
    try {
      await this.putBlob(blobName, Buffer.from(text, 'utf8'), {
        metadata: {},
        contentType: 'application/json',
        onlyIfAbsent: options.onlyIfAbsent === true,
      });
      return true;
    } catch (error) {
      if (options.onlyIfAbsent && isStatus(error, 409, 412)) return false;
      throw error;
    }
  }

  async readJson<T>(blobName: string): Promise<T | undefined> {
    const buffer = await this.getBlob(blobName);
    return buffer === undefined ? undefined : (JSON.parse(buffer.toString('utf8')) as T);
  }

  async writeText(blobName: string, text: string, contentType = 'application/x-ndjson'): Promise<void> {
    await this.putBlob(blobName, Buffer.from(text, 'utf8'), { metadata: {}, contentType, onlyIfAbsent: false });
  }

  async readRange(blobName: string, offset: number, count: number): Promise<Buffer> {
    const bytes = await this.getBlob(blobName, { offset, count });
    if (bytes === undefined)
      throw new RestError(`Get Blob ${blobName}: 404 BlobNotFound`, { statusCode: 404, code: 'BlobNotFound' });
    return bytes;
  }

  /** Writes records as gzip NDJSON from an async source, never holding the whole file. Returns its SHA-256. */
  async writeNdjsonGz(
    blobName: string,
    records: AsyncIterable<unknown> | Iterable<unknown>,
  ): Promise<{ sha256: string; count: number }> {
    const hash = createHash('sha256');
    let count = 0;
    // Lines go to gzip in pieces of about 64 KB: a stream chunk per record meant a compression call on libuv's
    // pool, a hash update and a stream hop for each of a mailbox's thousands of plan and manifest records.
    async function* lines() {
      let pending = '';
      for await (const record of records as AsyncIterable<unknown>) {
        count++;
        pending += `${JSON.stringify(record)}\n`;
        if (pending.length >= NDJSON_PIECE_CHARS) {
          yield pending;
          pending = '';
        }
      }
      if (pending) yield pending;
    }
    const gzip = createGzip();
    const hashed = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    const upload = this.container.getBlockBlobClient(blobName).uploadStream(hashed, 1024 * 1024, 2, {
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
    });
    await Promise.all([pipeline(Readable.from(lines()), gzip, hashed), upload]);
    return { sha256: hash.digest('hex'), count };
  }

  /** Reads gzip NDJSON record by record; an absent blob reads as empty when `missingOk`. */
  async *readNdjsonGz<T>(blobName: string, options: { missingOk?: boolean } = {}): AsyncGenerator<T> {
    let body: Readable;
    try {
      const response = await this.container.getBlockBlobClient(blobName).download();
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
    for await (const chunk of gunzip) {
      const text = carry + decoder.write(chunk as Buffer);
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) if (line) yield JSON.parse(line) as T;
    }
    carry += decoder.end();
    if (carry) yield JSON.parse(carry) as T;
  }

  async *listNames(prefix: string): AsyncGenerator<string> {
    for await (const blob of this.container.listBlobsFlat({ prefix })) yield blob.name;
  }

  /** Blobs under a prefix with their size and creation time. */
  async *listBlobs(prefix: string): AsyncGenerator<{ name: string; size: number; createdOn: Date }> {
    for await (const blob of this.container.listBlobsFlat({ prefix })) {
      yield {
        name: blob.name,
        size: blob.properties.contentLength ?? 0,
        createdOn: blob.properties.createdOn ?? blob.properties.lastModified,
      };
    }
  }

  /** The next level of "folders" under a prefix (`mailboxes/` → each mailbox key). */
  async *listPrefixes(prefix: string): AsyncGenerator<string> {
    for await (const entry of this.container.listBlobsByHierarchy('/', { prefix })) {
      if (entry.kind === 'prefix') yield entry.name;
    }
  }

  /**
   * Deletes a blob. Returns 'deleted', 'absent', or 'immutable' when a retention policy or legal hold protects it
   * (version-level WORM): that is the vault doing its job, not an error.
   */
  async deleteBlob(blobName: string): Promise<'deleted' | 'absent' | 'immutable'> {
    try {
      await this.container.getBlobClient(blobName).delete();
      return 'deleted';
    } catch (error) {
      if (isStatus(error, 404)) return 'absent';
      const code = (error as RestError).code ?? '';
      if (isStatus(error, 409, 403) && /Immutable|LegalHold|Retention|Worm/i.test(code)) return 'immutable';
      throw error;
    }
  }

  async deleteIfExists(blobName: string): Promise<void> {
    await this.container.getBlobClient(blobName).deleteIfExists();
  }
}
