import type { Readable } from 'node:stream';
import { RestError, type BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { createBlobRequests, type GetBlob, type PutBlob } from './blobRequests.js';
import { ItemVersions, type StoredVersion } from './itemVersions.js';
import { readNdjsonGzBlob, writeNdjsonGzBlob } from './ndjsonGz.js';
import { isStatus } from './restStatus.js';
import { hookedWrite } from './writeFaults.js';

export { VersionConflictError, type StoredVersion } from './itemVersions.js';

export interface JsonWriteOptions {
  onlyIfAbsent?: boolean;
  metadata?: Record<string, string>;
}

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
    return hookedWrite({ op: 'putItemVersion', blobName }, () => this.itemVersions.write(blobName, data));
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

  /** `metadata` travels with the blob's listing (`listWithMetadata`): what a reader of many blobs needs of each. */
  writeJson(blobName: string, value: unknown, options: JsonWriteOptions = {}): Promise<boolean> {
    return hookedWrite({ op: 'putJson', blobName }, () => this.putJson(blobName, value, options));
  }

  private async putJson(blobName: string, value: unknown, options: JsonWriteOptions): Promise<boolean> {
    const text = JSON.stringify(value, null, 1);
    try {
      await this.putBlob(blobName, Buffer.from(text, 'utf8'), {
        metadata: options.metadata ?? {},
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
    const body = Buffer.from(text, 'utf8');
    await hookedWrite({ op: 'putText', blobName }, () =>
      this.putBlob(blobName, body, { metadata: {}, contentType, onlyIfAbsent: false }),
    );
  }

  async readRange(blobName: string, offset: number, count: number): Promise<Buffer> {
    const bytes = await this.getBlob(blobName, { offset, count });
    if (bytes === undefined)
      throw new RestError(`Get Blob ${blobName}: 404 BlobNotFound`, { statusCode: 404, code: 'BlobNotFound' });
    return bytes;
  }

  /** Writes records as gzip NDJSON from an async source, never holding the whole file. Returns its SHA-256. */
  writeNdjsonGz(
    blobName: string,
    records: AsyncIterable<unknown> | Iterable<unknown>,
  ): Promise<{ sha256: string; count: number }> {
    return hookedWrite({ op: 'putNdjson', blobName }, () => writeNdjsonGzBlob(this.container, blobName, records));
  }

  /**
   * Stages one block of a blob written over several activities (a manifest in slices): nothing is visible until
   * `commitBlocks` names it, and staging the same id again replaces it, so a retried slice stages its blocks again.
   */
  stageBlock(blobName: string, blockId: string, bytes: Buffer): Promise<void> {
    return hookedWrite({ op: 'stageBlock', blobName }, async () => {
      await this.container.getBlockBlobClient(blobName).stageBlock(blockId, bytes, bytes.length);
    });
  }

  /**
   * Makes the blob the staged blocks named, in this order: NDJSON, gzip members (as `writeNdjsonGz` writes) unless
   * `plain` (an indexed file read by line offsets).
   */
  commitBlocks(blobName: string, blockIds: string[], plain = false): Promise<void> {
    return hookedWrite({ op: 'commitBlocks', blobName }, async () => {
      await this.container.getBlockBlobClient(blobName).commitBlockList(blockIds, {
        blobHTTPHeaders: {
          blobContentType: 'application/x-ndjson',
          ...(plain ? {} : { blobContentEncoding: 'gzip' }),
        },
      });
    });
  }

  /**
   * Reads gzip NDJSON record by record; an absent blob reads as empty when `missingOk`. From `offset` on, when
   * given: it must be where a gzip member starts (a manifest's chunk).
   */
  readNdjsonGz<T>(
    blobName: string,
    options: { missingOk?: boolean; offset?: number; skipRecords?: number } = {},
  ): AsyncGenerator<T> {
    return readNdjsonGzBlob<T>(this.container, blobName, options);
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

  /** Blobs under a prefix with their metadata, read from the listing itself (5,000 a request). */
  async *listWithMetadata(prefix: string): AsyncGenerator<{ name: string; metadata: Record<string, string> }> {
    for await (const blob of this.container.listBlobsFlat({ prefix, includeMetadata: true }))
      yield { name: blob.name, metadata: blob.metadata ?? {} };
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
  deleteBlob(blobName: string): Promise<'deleted' | 'absent' | 'immutable'> {
    return hookedWrite({ op: 'delete', blobName }, () => this.deleteOne(blobName));
  }

  private async deleteOne(blobName: string): Promise<'deleted' | 'absent' | 'immutable'> {
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

  /** Streams a file into a blob (4 MB blocks, two in flight): memory stays flat for any size. */
  async writeStream(blobName: string, source: Readable, contentType: string): Promise<void> {
    await hookedWrite({ op: 'putStream', blobName }, () =>
      this.container
        .getBlockBlobClient(blobName)
        .uploadStream(source, 4 * 1024 * 1024, 2, { blobHTTPHeaders: { blobContentType: contentType } }),
    );
  }

  /** A blob's bytes as a stream and its length, or undefined when it is not in the vault. */
  async openBlob(blobName: string, signal?: AbortSignal): Promise<{ stream: Readable; length: number } | undefined> {
    try {
      const answer = await this.container
        .getBlobClient(blobName)
        .download(0, undefined, signal ? { abortSignal: signal } : {});
      return { stream: answer.readableStreamBody as Readable, length: answer.contentLength ?? 0 };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async deleteIfExists(blobName: string): Promise<void> {
    await hookedWrite({ op: 'delete', blobName }, () => this.container.getBlobClient(blobName).deleteIfExists());
  }
}
