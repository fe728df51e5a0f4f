import { createHash, type Hash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ManifestFolder, ManifestItem } from './records.js';
import type { VaultStore } from './vaultStore.js';
import { sliceBlockId } from './blockIds.js';

const gzipAsync = promisify(gzip);

/** Items per gzip member: a browse page or a lookup by id reads and inflates about this many records. */
export const ITEMS_PER_CHUNK = 1000;

/** Members gathered into one staged block of the manifest blob (bytes). */
const BLOCK_BYTES = 4 * 1024 * 1024;

/** Where a part of a manifest lies in its blob: a gzip member of its own, readable with one ranged request. */
export interface ManifestPart {
  offset: number;
  length: number;
}

/** A run of one folder's items, in id order. */
export interface ManifestChunk extends ManifestPart {
  folderId: string;
  count: number;
  firstId: string;
  lastId: string;
}

/**
 * The small index of a manifest (`layout.manifestIndex`): the folders' member, then each chunk of items with the
 * folder it belongs to and its id range. Chunks are in (folder id, item id) order, as the items in the manifest.
 */
export interface ManifestIndex {
  version: 1;
  folders: ManifestPart;
  chunks: ManifestChunk[];
}

/**
 * A manifest being written, as a checkpoint holds it between slices: the blocks staged so far (none of them
 * visible until the last slice commits the list) and the index of what they hold. JSON, small: a block id per
 * 4 MB and a chunk entry per 1,000 items.
 */
export interface ManifestDraft {
  blocks: string[];
  offset: number;
  index: ManifestIndex;
}

export function emptyManifestDraft(): ManifestDraft {
  return { blocks: [], offset: 0, index: { version: 1, folders: { offset: 0, length: 0 }, chunks: [] } };
}

/**
 * Writes a manifest as one gzip NDJSON blob made of gzip members: the folders first, then each folder's items in
 * chunks of ITEMS_PER_CHUNK. A reader of the whole blob sees one NDJSON stream (gunzip reads member after member);
 * the index says where each member lies, so that a browse page or a lookup reads only the chunk it needs.
 *
 * The blob is written in blocks, and may be written over several activities: each starts from the draft the one
 * before it left, stages its own blocks (ids named by the slice, so a retried slice stages the same ones again)
 * and hands its draft on; `finishManifest` commits the list. Items must come in (folderId, id) order across all
 * slices; memory is one chunk and one block.
 */
export class ManifestBlockWriter {
  private readonly draft: ManifestDraft;
  /** The hash of everything written, when this writer wrote it all (a hash cannot be handed to the next slice). */
  private readonly hash: Hash | undefined;
  private chunk: ManifestItem[] = [];
  private block: Buffer[] = [];
  private blockBytes = 0;
  private blocksThisSlice = 0;

  constructor(
    private readonly vault: VaultStore,
    private readonly blobName: string,
    draft: ManifestDraft,
    private readonly slice: number,
  ) {
    this.draft = structuredClone(draft);
    this.hash = draft.offset === 0 ? createHash('sha256') : undefined;
  }

  /** The folders' member: first in the blob, before any item. */
  async writeFolders(folders: ManifestFolder[]): Promise<void> {
    if (this.draft.offset !== 0) throw new Error(`The folders of ${this.blobName} go first`);
    this.draft.index.folders = await this.member(folders);
  }

  async add(item: ManifestItem): Promise<void> {
    const first = this.chunk[0];
    if (first && (this.chunk.length >= ITEMS_PER_CHUNK || first.folderId !== item.folderId)) await this.flushChunk();
    this.chunk.push(item);
  }

  /** Stages what is left and returns the draft for the next slice, or for `finishManifest`. */
  async close(): Promise<{ draft: ManifestDraft; sha256?: string }> {
    if (this.chunk.length > 0) await this.flushChunk();
    if (this.blockBytes > 0) await this.stageBlock();
    return { draft: this.draft, ...(this.hash ? { sha256: this.hash.digest('hex') } : {}) };
  }

  private async flushChunk(): Promise<void> {
    const items = this.chunk;
    this.chunk = [];
    const part = await this.member(items);
    const first = items[0]!;
    const last = items[items.length - 1]!;
    this.draft.index.chunks.push({
      folderId: first.folderId,
      ...part,
      count: items.length,
      firstId: first.id,
      lastId: last.id,
    });
  }

  private async member(records: unknown[]): Promise<ManifestPart> {
    const bytes = await gzipAsync(records.map((record) => `${JSON.stringify(record)}\n`).join(''));
    this.hash?.update(bytes);
    const part = { offset: this.draft.offset, length: bytes.length };
    this.draft.offset += bytes.length;
    this.block.push(bytes);
    this.blockBytes += bytes.length;
    if (this.blockBytes >= BLOCK_BYTES) await this.stageBlock();
    return part;
  }

  private async stageBlock(): Promise<void> {
    const id = sliceBlockId(this.slice, this.blocksThisSlice++);
    await this.vault.stageBlock(this.blobName, id, Buffer.concat(this.block, this.blockBytes));
    this.draft.blocks.push(id);
    this.block = [];
    this.blockBytes = 0;
  }
}

/**
 * Commits the staged blocks as the manifest blob and returns its SHA-256: the one the writer computed when it
 * wrote the whole blob, else read back from the vault (a manifest written in slices).
 */
export async function finishManifest(
  vault: VaultStore,
  blobName: string,
  written: { draft: ManifestDraft; sha256?: string },
): Promise<string> {
  await vault.commitBlocks(blobName, written.draft.blocks);
  if (written.sha256) return written.sha256;
  const opened = await vault.openBlob(blobName);
  if (!opened) throw new Error(`The manifest ${blobName} is not in the vault after its commit`);
  const hash = createHash('sha256');
  for await (const bytes of opened.stream) hash.update(bytes as Buffer);
  return hash.digest('hex');
}

/** A whole manifest in one go (`ManifestBlockWriter` in a single slice). */
export async function writeManifest(
  vault: VaultStore,
  blobName: string,
  folders: ManifestFolder[],
  items: AsyncIterable<ManifestItem> | Iterable<ManifestItem>,
): Promise<{ sha256: string; index: ManifestIndex; itemCount: number }> {
  const writer = new ManifestBlockWriter(vault, blobName, emptyManifestDraft(), 0);
  await writer.writeFolders(folders);
  let itemCount = 0;
  for await (const item of items) {
    itemCount++;
    await writer.add(item);
  }
  const written = await writer.close();
  return { sha256: await finishManifest(vault, blobName, written), index: written.draft.index, itemCount };
}
