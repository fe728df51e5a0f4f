import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { compareKeys } from './externalSort.js';
import type { ManifestChunk, ManifestIndex, ManifestPart } from './manifestWriter.js';
import type { ManifestEntry, ManifestFolder, ManifestItem, SnapshotRecord } from './records.js';
import type { VaultStore } from './vaultStore.js';

const gunzipAsync = promisify(gunzip);

/**
 * Reads the parts of a snapshot's manifest it needs. A snapshot committed with an index (`manifestIndexBlob`)
 * is read by ranged requests: its folders, one folder's chunks, the chunk that can hold an id. A snapshot
 * committed before indexes has one unindexed stream: its folders and counts take one pass over it.
 */
export class ManifestReader {
  private constructor(
    private readonly vault: VaultStore,
    private readonly snapshot: SnapshotRecord,
    private readonly index: ManifestIndex | undefined,
  ) {}

  static async open(vault: VaultStore, snapshot: SnapshotRecord): Promise<ManifestReader> {
    const index = snapshot.manifestIndexBlob
      ? await vault.readJson<ManifestIndex>(snapshot.manifestIndexBlob)
      : undefined;
    if (snapshot.manifestIndexBlob && !index)
      throw new Error(`The manifest index of snapshot ${snapshot.snapshotId} is not in the vault`);
    return new ManifestReader(vault, snapshot, index);
  }

  /** Whether the manifest is in (folderId, id) order with an index (every snapshot committed since indexes). */
  get indexed(): boolean {
    return this.index !== undefined;
  }

  /** The snapshot's folders and how many items each holds directly. */
  async folders(): Promise<{ folders: ManifestFolder[]; itemCounts: Map<string, number> }> {
    const itemCounts = new Map<string, number>();
    if (this.index) {
      for (const chunk of this.index.chunks)
        itemCounts.set(chunk.folderId, (itemCounts.get(chunk.folderId) ?? 0) + chunk.count);
      return { folders: await this.readPart<ManifestFolder>(this.index.folders), itemCounts };
    }
    const folders: ManifestFolder[] = [];
    for await (const entry of this.entries()) {
      if (entry.kind === 'folder') folders.push(entry);
      else itemCounts.set(entry.folderId, (itemCounts.get(entry.folderId) ?? 0) + 1);
    }
    return { folders, itemCounts };
  }

  /** Items `skip … skip + top - 1` of one folder, in id order (in stored order for a snapshot without index). */
  async folderPage(folderId: string, skip: number, top: number): Promise<ManifestItem[]> {
    if (!this.index) {
      const page: ManifestItem[] = [];
      let seen = 0;
      for await (const item of this.itemsOf(folderId)) {
        if (seen++ >= skip) page.push(item);
        if (page.length >= top) break;
      }
      return page;
    }
    const page: ManifestItem[] = [];
    let before = 0;
    for (const chunk of this.chunksOf(folderId)) {
      const after = before + chunk.count;
      if (after > skip && before < skip + top) {
        const items = await this.readPart<ManifestItem>(chunk);
        page.push(...items.slice(Math.max(0, skip - before), skip + top - before));
      }
      before = after;
      if (before >= skip + top) break;
    }
    return page;
  }

  /** Every item of one folder, a chunk at a time. */
  async *itemsOf(folderId: string): AsyncGenerator<ManifestItem> {
    if (!this.index) {
      for await (const entry of this.entries()) if (entry.kind === 'item' && entry.folderId === folderId) yield entry;
      return;
    }
    for (const chunk of this.chunksOf(folderId)) yield* await this.readPart<ManifestItem>(chunk);
  }

  /** The item with this id, looked up in the one chunk per folder whose id range can hold it. */
  async findItem(id: string): Promise<ManifestItem | undefined> {
    if (!this.index) {
      for await (const entry of this.entries()) if (entry.kind === 'item' && entry.id === id) return entry;
      return undefined;
    }
    for (const chunk of this.index.chunks) {
      if (id < chunk.firstId || id > chunk.lastId) continue;
      const found = (await this.readPart<ManifestItem>(chunk)).find((item) => item.id === id);
      if (found) return found;
    }
    return undefined;
  }

  /**
   * The items of an indexed manifest whose key comes after `afterKey` (all of them without one), in key order:
   * one streamed read from the chunk that holds the first of them. `keyOf` is the manifest's (folder, id) order.
   */
  async *itemsAfter(
    afterKey: string | undefined,
    keyOf: (folderId: string, id: string) => string,
  ): AsyncGenerator<ManifestItem> {
    if (!this.index) throw new Error(`Snapshot ${this.snapshot.snapshotId} has no index to read from a key`);
    const after = (folderId: string, id: string) =>
      afterKey === undefined || compareKeys(keyOf(folderId, id), afterKey) > 0;
    const first = this.index.chunks.find((chunk) => after(chunk.folderId, chunk.lastId));
    if (!first) return;
    for await (const item of this.vault.readNdjsonGz<ManifestItem>(this.snapshot.manifestBlob, {
      offset: first.offset,
    }))
      if (after(item.folderId, item.id)) yield item;
  }

  /**
   * The items of the folders `inFolder` accepts, in stored order, from the `skip`-th of them on: an indexed
   * manifest skips whole chunks by their counts and reads the rest chunk by chunk; an older one is streamed.
   */
  async *itemsFrom(inFolder: (folderId: string) => boolean, skip: number): AsyncGenerator<ManifestItem> {
    let toSkip = skip;
    if (!this.index) {
      for await (const entry of this.entries())
        if (entry.kind === 'item' && inFolder(entry.folderId) && toSkip-- <= 0) yield entry;
      return;
    }
    for (const chunk of this.index.chunks) {
      if (!inFolder(chunk.folderId)) continue;
      if (toSkip >= chunk.count) {
        toSkip -= chunk.count;
        continue;
      }
      const items = await this.readPart<ManifestItem>(chunk);
      yield* items.slice(toSkip);
      toSkip = 0;
    }
  }

  /** The whole manifest, folders then items, streamed. */
  entries(): AsyncGenerator<ManifestEntry> {
    return this.vault.readNdjsonGz<ManifestEntry>(this.snapshot.manifestBlob);
  }

  private chunksOf(folderId: string): ManifestChunk[] {
    return (this.index?.chunks ?? []).filter((chunk) => chunk.folderId === folderId);
  }

  private async readPart<T>(part: ManifestPart): Promise<T[]> {
    const bytes = await this.vault.readRange(this.snapshot.manifestBlob, part.offset, part.length);
    const text = (await gunzipAsync(bytes)).toString('utf8');
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as T);
  }
}
