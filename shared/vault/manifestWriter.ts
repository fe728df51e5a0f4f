import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ManifestFolder, ManifestItem } from './records.js';
import type { VaultStore } from './vaultStore.js';

const gzipAsync = promisify(gzip);

/** Items per gzip member: a browse page or a lookup by id reads and inflates about this many records. */
export const ITEMS_PER_CHUNK = 1000;

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
 * Writes a manifest as one gzip NDJSON blob made of gzip members: the folders first, then each folder's items in
 * chunks of ITEMS_PER_CHUNK. A reader of the whole blob sees one NDJSON stream (gunzip reads member after member,
 * and the SHA-256 covers the whole blob as before); the index says where each member lies, so that a browse page
 * or a lookup reads only the chunk it needs. Items must come in (folderId, id) order; memory is one chunk.
 */
export async function writeManifest(
  vault: VaultStore,
  blobName: string,
  folders: ManifestFolder[],
  items: AsyncIterable<ManifestItem> | Iterable<ManifestItem>,
): Promise<{ sha256: string; index: ManifestIndex; itemCount: number }> {
  const hash = createHash('sha256');
  const index: ManifestIndex = { version: 1, folders: { offset: 0, length: 0 }, chunks: [] };
  let offset = 0;
  let itemCount = 0;
  const member = async (records: unknown[]): Promise<{ bytes: Buffer; part: ManifestPart }> => {
    const bytes = await gzipAsync(records.map((record) => `${JSON.stringify(record)}\n`).join(''));
    hash.update(bytes);
    const part = { offset, length: bytes.length };
    offset += bytes.length;
    return { bytes, part };
  };
  async function* members(): AsyncGenerator<Buffer> {
    const foldersMember = await member(folders);
    index.folders = foldersMember.part;
    yield foldersMember.bytes;
    let chunk: ManifestItem[] = [];
    const flush = async () => {
      const { bytes, part } = await member(chunk);
      const first = chunk[0]!;
      const last = chunk[chunk.length - 1]!;
      index.chunks.push({ folderId: first.folderId, ...part, count: chunk.length, firstId: first.id, lastId: last.id });
      chunk = [];
      return bytes;
    };
    for await (const item of items) {
      itemCount++;
      if (chunk.length > 0 && (chunk.length >= ITEMS_PER_CHUNK || chunk[0]!.folderId !== item.folderId))
        yield await flush();
      chunk.push(item);
    }
    if (chunk.length > 0) yield await flush();
  }
  const blob = vault.container.getBlockBlobClient(blobName);
  await blob.uploadStream(Readable.from(members(), { objectMode: false }), 4 * 1024 * 1024, 2, {
    blobHTTPHeaders: { blobContentType: 'application/x-ndjson', blobContentEncoding: 'gzip' },
  });
  return { sha256: hash.digest('hex'), index, itemCount };
}
