import { createHash, hash as oneShotHash, randomUUID, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import type { PutBlob } from './blobRequests.js';
import { isStatus } from './restStatus.js';
import { MailboxVaultError } from '../errors.js';

export interface StoredVersion {
  blobName: string;
  sha256: string;
  length: number;
  /** False when the version was already in the vault (a retried activity): nothing was written. */
  written: boolean;
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

/**
 * Item versions: write-once blobs whose SHA-256 and size are recorded in their metadata. A version up to one
 * block is one Put Blob; a longer one is streamed up as blocks, hashed as they go, and committed with its hash.
 */
export class ItemVersions {
  constructor(
    private readonly container: ContainerClient,
    private readonly putBlob: PutBlob,
    /** Items up to this size are written with one request; longer ones are staged in blocks of this size. */
    readonly blockSize: number,
    private readonly blockConcurrency: number,
  ) {}

  /**
   * Streams one exported item into its write-once blob. Blocks are staged as they fill while the SHA-256 runs
   * over the same bytes; the commit carries the hash and size in metadata and `If-None-Match: *`, so a version
   * is written once. If it already exists (a retry), its recorded hash must match. An item already whole in
   * memory (most mail) is hashed in one call and sent as it is.
   */
  async write(blobName: string, data: Buffer | AsyncIterable<Buffer> | Iterable<Buffer>): Promise<StoredVersion> {
    if (Buffer.isBuffer(data) && data.length <= this.blockSize) return this.putWhole(blobName, data, hashOf(data));
    const upload = new BlockUpload(this.container, blobName, this.blockSize, this.blockConcurrency);
    for await (const chunk of Buffer.isBuffer(data) ? [data] : data) {
      upload.append(chunk);
      while (upload.hasFullBlock) await upload.stageFullBlock();
    }
    try {
      // Most mail fits in one block: one Put Blob with the hash already known (half the transactions).
      if (!upload.hasStagedBlocks) return await this.putWhole(blobName, upload.pendingBytes(), upload.sha256());
      return await upload.commit();
    } catch (error) {
      if (!isStatus(error, 409, 412)) throw error;
      return this.alreadyStored(blobName, upload.sha256IfFinal, upload.length);
    }
  }

  /** Recorded hash and size of a stored version, or undefined when it is not in the vault. */
  async read(blobName: string): Promise<{ sha256: string; length: number } | undefined> {
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

  async open(blobName: string, signal?: AbortSignal): Promise<Readable> {
    const response = await this.container.getBlockBlobClient(blobName).download(0, undefined, { abortSignal: signal });
    return response.readableStreamBody as Readable;
  }

  /** One Put Blob of a whole item version whose hash is known; an existing version must have the same hash. */
  private async putWhole(blobName: string, body: Buffer, sha256: string): Promise<StoredVersion> {
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

  /**
   * A write found the version already there (a retried activity): it must hold the same bytes. A write refused
   * before its hash was final (`sha256` empty) matches nothing, not even a blob without a recorded hash.
   */
  private async alreadyStored(blobName: string, sha256: string, length: number): Promise<StoredVersion> {
    if (!sha256 || (await this.read(blobName))?.sha256 !== sha256) throw new VersionConflictError(blobName);
    return { blobName, sha256, length, written: false };
  }
}

/**
 * One item version streamed up as blocks: the SHA-256 runs over the bytes as they arrive, full blocks are staged
 * with at most `concurrency` in flight, and the commit records the hash. Bytes short of a block wait in `pending`.
 */
class BlockUpload {
  private readonly hash: Hash = createHash('sha256');
  private readonly blockIds: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private blobClient: BlockBlobClient | undefined;
  private uploadPrefix: string | undefined;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private digest: string | undefined;
  private total = 0;

  constructor(
    private readonly container: ContainerClient,
    private readonly blobName: string,
    private readonly blockSize: number,
    private readonly concurrency: number,
  ) {}

  append(chunk: Buffer): void {
    this.hash.update(chunk);
    this.total += chunk.length;
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
  }

  /** Bytes appended so far. */
  get length(): number {
    return this.total;
  }

  get hasFullBlock(): boolean {
    return this.pendingLength >= this.blockSize;
  }

  get hasStagedBlocks(): boolean {
    return this.blockIds.length > 0;
  }

  /** Stages the first block of what is pending; waits only while `concurrency` blocks are in flight. */
  stageFullBlock(): Promise<void> {
    const joined = Buffer.concat(this.pending, this.pendingLength);
    const rest = joined.subarray(this.blockSize);
    this.pending = rest.length ? [rest] : [];
    this.pendingLength = rest.length;
    return this.stage(joined.subarray(0, this.blockSize));
  }

  /** What has not been staged, as one Buffer (the whole item when no block was). */
  pendingBytes(): Buffer {
    return this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLength);
  }

  sha256(): string {
    return (this.digest ??= this.hash.digest('hex'));
  }

  /** Empty until the hash is final: a write refused before then cannot match a stored version. */
  get sha256IfFinal(): string {
    return this.digest ?? '';
  }

  /** Stages the rest, waits for every block, and commits them with the hash, only if the blob is not there yet. */
  async commit(): Promise<StoredVersion> {
    if (this.pendingLength > 0) await this.stage(this.pendingBytes());
    await Promise.all(this.inFlight);
    const sha256 = this.sha256();
    await this.blob().commitBlockList(this.blockIds, {
      metadata: { sha256, length: String(this.length) },
      conditions: { ifNoneMatch: '*' },
      blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
    });
    return { blobName: this.blobName, sha256, length: this.length, written: true };
  }

  private async stage(block: Buffer): Promise<void> {
    this.uploadPrefix ??= randomUUID().replace(/-/g, '').slice(0, 16);
    const id = Buffer.from(`${this.uploadPrefix}-${String(this.blockIds.length).padStart(6, '0')}`).toString('base64');
    this.blockIds.push(id);
    const upload = this.blob()
      .stageBlock(id, block, block.length)
      .then(() => undefined);
    this.inFlight.add(upload);
    void upload.finally(() => this.inFlight.delete(upload)).catch(() => undefined);
    if (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
  }

  /** Small items never need a client object of their own (building one per blob is a measurable CPU cost). */
  private blob(): BlockBlobClient {
    return (this.blobClient ??= this.container.getBlockBlobClient(this.blobName));
  }
}
