import { createHash, hash as oneShotHash, randomUUID } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { RestError, type BlobServiceClient, type BlockBlobClient, type ContainerClient } from '@azure/storage-blob';
import { createBlobRequests, type GetBlob, type PutBlob } from './blobRequests.js';
import { MailboxVaultError } from '../errors.js';

/** What NDJSON writes gather before handing text to gzip (characters). */
const NDJSON_PIECE_CHARS = 64 * 1024;

export interface StoredVersion {
  blobName: string;
  sha256: string;
  length: number;
  /** False when the version was already in the vault (a retried activity): nothing was written. */
  written: boolean;
}

export interface VaultStoreOptions {
  /** Block size for item uploads; memory per upload is about blockSize × blockConcurrency. */
  blockSizeInBytes?: number;
  blockConcurrency?: number;
}

/** Thrown when a stored version's recorded SHA-256 differs from the bytes just exported for the same version. */
export class VersionConflictError extends MailboxVaultError {
  readonly code = 'VersionConflict';
  constructor(blobName: string) {
    super(`The vault already holds different bytes for ${blobName}`);
  }
}

/** SHA-256 of bytes already in memory, in one call (no hash object per item). */
function hashOf(bytes: Buffer): string {
  return oneShotHash('sha256', bytes, 'hex');
}

function isStatus(error: unknown, ...statuses: number[]): boolean {
  return error instanceof RestError && statuses.includes(error.statusCode ?? 0);
}

/**
 * The vault's blob container: write-once item versions written as a stream (hashing as the blocks go up, the
 * SHA-256 landing in the blob's metadata at commit), JSON records, and gzip NDJSON streams for manifests.
 */
export class VaultStore {
  readonly container: ContainerClient;
  private readonly blockSize: number;
  private readonly blockConcurrency: number;
  private readonly putBlob: PutBlob;
  private readonly getBlob: GetBlob;

  constructor(service: BlobServiceClient, containerName: string, options: VaultStoreOptions = {}) {
    this.container = service.getContainerClient(containerName);
    ({ put: this.putBlob, get: this.getBlob } = createBlobRequests(this.container));
    this.blockSize = options.blockSizeInBytes ?? 4 * 1024 * 1024;
    this.blockConcurrency = options.blockConcurrency ?? 2;
  }

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  /**
   * Streams one exported item into its write-once blob. Blocks are staged as they fill while the SHA-256 runs
   * over the same bytes; the commit carries the hash and size in metadata and `If-None-Match: *`, so a version
   * is written once. If it already exists (a retry), its recorded hash must match. An item already whole in
   * memory (most mail) is hashed in one call and sent as it is.
   */
  async writeItemVersion(
    blobName: string,
    data: Buffer | AsyncIterable<Buffer> | Iterable<Buffer>,
  ): Promise<StoredVersion> {
    if (Buffer.isBuffer(data) && data.length <= this.blockSize)
      return this.putItemVersion(blobName, data, hashOf(data));
    // Small items never need a client object of their own (building one per blob is a measurable CPU cost).
    let blobClient: BlockBlobClient | undefined;
    const blob = () => (blobClient ??= this.container.getBlockBlobClient(blobName));
    const hash = createHash('sha256');
    const blockIds: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let uploadPrefix: string | undefined;
    let pending: Buffer[] = [];
    let pendingLength = 0;
    let length = 0;

    const stage = async (block: Buffer) => {
      uploadPrefix ??= randomUUID().replace(/-/g, '').slice(0, 16);
      const id = Buffer.from(`${uploadPrefix}-${String(blockIds.length).padStart(6, '0')}`).toString('base64');
      blockIds.push(id);
      const upload = blob()
        .stageBlock(id, block, block.length)
        .then(() => undefined);
      inFlight.add(upload);
      void upload.finally(() => inFlight.delete(upload)).catch(() => undefined);
      if (inFlight.size >= this.blockConcurrency) await Promise.race(inFlight);
    };

    for await (const chunk of Buffer.isBuffer(data) ? [data] : data) {
      hash.update(chunk);
      length += chunk.length;
      pending.push(chunk);
      pendingLength += chunk.length;
      while (pendingLength >= this.blockSize) {
        const joined = Buffer.concat(pending, pendingLength);
        await stage(joined.subarray(0, this.blockSize));
        const rest = joined.subarray(this.blockSize);
        pending = rest.length ? [rest] : [];
        pendingLength = rest.length;
      }
    }
    let hashHex: string | undefined;
    const sha256Of = () => (hashHex ??= hash.digest('hex'));
    try {
      if (blockIds.length === 0) {
        // Most mail fits in one block: one Put Blob with the hash already known (half the transactions).
        return await this.putItemVersion(
          blobName,
          pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLength),
          sha256Of(),
        );
      }
      if (pendingLength > 0) await stage(Buffer.concat(pending, pendingLength));
      await Promise.all(inFlight);
      const sha256 = sha256Of();
      await blob().commitBlockList(blockIds, {
        metadata: { sha256, length: String(length) },
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      });
      return { blobName, sha256, length, written: true };
    } catch (error) {
      if (!isStatus(error, 409, 412)) throw error;
      return this.alreadyStored(blobName, hashHex ?? '', length);
    }
  }

  /** One Put Blob of a whole item version whose hash is known; an existing version must have the same hash. */
  private async putItemVersion(blobName: string, body: Buffer, sha256: string): Promise<StoredVersion> {
    const length = body.length;
    try {
      await this.putBlob(blobName, body, {
        metadata: { sha256, length: String(length) },
        contentType: 'application/octet-stream',
        onlyIfAbsent: true,
      });
      return { blobName, sha256, length, written: true };
    } catch (error) {
      if (!isStatus(error, 409, 412)) throw error;
      return this.alreadyStored(blobName, sha256, length);
    }
  }

  /** A write found the version already there (a retried activity): it must hold the same bytes. */
  private async alreadyStored(blobName: string, sha256: string, length: number): Promise<StoredVersion> {
    if ((await this.getItemVersion(blobName))?.sha256 !== sha256) throw new VersionConflictError(blobName);
    return { blobName, sha256, length, written: false };
  }

  /** Block size: items up to this size are written with one request. */
  get singleRequestLimit(): number {
    return this.blockSize;
  }

  /** Recorded hash and size of a stored version, or undefined when it is not in the vault. */
  async getItemVersion(blobName: string): Promise<{ sha256: string; length: number } | undefined> {
    try {
      const props = await this.container.getBlockBlobClient(blobName).getProperties();
      return {
        sha256: props.metadata?.sha256 ?? '',
        length: Number(props.metadata?.length ?? props.contentLength ?? 0),
      };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async openItemVersion(blobName: string, signal?: AbortSignal): Promise<Readable> {
    const response = await this.container.getBlockBlobClient(blobName).download(0, undefined, { abortSignal: signal });
    return response.readableStreamBody as Readable;
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
