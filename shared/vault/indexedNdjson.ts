import { Readable } from 'node:stream';
import type { VaultStore } from './vaultStore.js';
import { sliceBlockId } from './blockIds.js';

/** What a streamed write gathers before handing text to the upload (characters). */
const PIECE_CHARS = 256 * 1024;

/** A file of one JSON record per line, and the blob holding its line offsets. */
export interface IndexedNdjsonFile {
  data: string;
  index: string;
  /** Names the file in errors: "the plan of run …". */
  description: string;
}

interface LineIndex {
  /** Set when the file may be written again: a reader that names it never reads new lines through an old index. */
  version?: string;
  /** The same, as run plans written before indexed files were one module called it (a run in flight across an upgrade). */
  planVersion?: string;
  /** Start of each line, then the end of the last. */
  offsets: number[];
}

/** Writes records one per line with their offsets, so that any run of consecutive records is one ranged read. */
export async function writeIndexedNdjson(
  vault: VaultStore,
  file: IndexedNdjsonFile,
  records: unknown[],
  version?: string,
): Promise<void> {
  const lines = records.map((record) => `${JSON.stringify(record)}\n`);
  const offsets = [0];
  for (const line of lines) offsets.push(offsets[offsets.length - 1]! + Buffer.byteLength(line));
  await vault.writeText(file.data, lines.join(''));
  await vault.writeJson(file.index, (version ? { version, offsets } : { offsets }) satisfies LineIndex);
}

/**
 * The same file from a stream of records, holding a piece of text and the offsets (a number per record), never
 * the records: a plan of a million items is written as it is made. Returns how many records were written.
 */
export async function writeIndexedNdjsonStream(
  vault: VaultStore,
  file: IndexedNdjsonFile,
  records: AsyncIterable<unknown>,
  version?: string,
): Promise<number> {
  const offsets = [0];
  async function* pieces(): AsyncGenerator<Buffer> {
    let pending = '';
    for await (const record of records) {
      const line = `${JSON.stringify(record)}\n`;
      offsets.push(offsets[offsets.length - 1]! + Buffer.byteLength(line));
      pending += line;
      if (pending.length >= PIECE_CHARS) {
        yield Buffer.from(pending, 'utf8');
        pending = '';
      }
    }
    if (pending) yield Buffer.from(pending, 'utf8');
  }
  await vault.container
    .getBlockBlobClient(file.data)
    .uploadStream(Readable.from(pieces(), { objectMode: false }), 4 * 1024 * 1024, 2, {
      blobHTTPHeaders: { blobContentType: 'application/x-ndjson' },
    });
  await vault.writeJson(file.index, (version ? { version, offsets } : { offsets }) satisfies LineIndex);
  return offsets.length - 1;
}

/** An indexed file written over several activities, as far as they got: its staged blocks and line offsets. */
export interface IndexedNdjsonDraft {
  blocks: string[];
  offsets: number[];
}

export const emptyIndexedNdjsonDraft = (): IndexedNdjsonDraft => ({ blocks: [], offsets: [0] });

/** Bytes a pass in order (`IndexedNdjsonReader.readInOrder`) reads at a time. */
const BYTES_PER_READ = 1024 * 1024;

/** Text a staged block gathers before it is sent (characters). */
const BLOCK_CHARS = 4 * 1024 * 1024;

/** Blocks a block blob may have committed (Blob Storage's limit). */
const MAX_BLOCKS = 50_000;

/**
 * Appends records to an indexed file as staged blocks of its blob, which no reader sees until
 * `finishIndexedNdjson` commits them: one slice of work adds its records and hands the draft to the next. A retried
 * slice stages the same block ids again (they carry the slice's number), replacing what it staged before.
 */
export class IndexedNdjsonBlockWriter {
  private readonly draft: IndexedNdjsonDraft;
  private pending: string[] = [];
  private pendingChars = 0;
  private blocksThisSlice = 0;

  constructor(
    private readonly vault: VaultStore,
    private readonly file: IndexedNdjsonFile,
    draft: IndexedNdjsonDraft,
    private readonly slice: number,
  ) {
    this.draft = structuredClone(draft);
  }

  /** Records added so far, by this writer and the slices before it. */
  get count(): number {
    return this.draft.offsets.length - 1;
  }

  async add(record: unknown): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    this.draft.offsets.push(this.draft.offsets[this.draft.offsets.length - 1]! + Buffer.byteLength(line));
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= BLOCK_CHARS) await this.stageBlock();
  }

  /** Stages what is left and returns the draft for the next slice, or for `finishIndexedNdjson`. */
  async close(): Promise<IndexedNdjsonDraft> {
    if (this.pending.length > 0) await this.stageBlock();
    return this.draft;
  }

  private async stageBlock(): Promise<void> {
    if (this.draft.blocks.length >= MAX_BLOCKS)
      throw new Error(`${this.file.description} would take more than ${MAX_BLOCKS} blocks: give each slice more work`);
    const id = sliceBlockId(this.slice, this.blocksThisSlice++);
    await this.vault.stageBlock(this.file.data, id, Buffer.from(this.pending.join(''), 'utf8'));
    this.draft.blocks.push(id);
    this.pending = [];
    this.pendingChars = 0;
  }
}

/** Commits a draft's blocks as the file and writes its index: readers see the file from here on. */
export async function finishIndexedNdjson(
  vault: VaultStore,
  file: IndexedNdjsonFile,
  draft: IndexedNdjsonDraft,
): Promise<void> {
  await vault.commitBlocks(file.data, draft.blocks, true);
  await vault.writeJson(file.index, { offsets: draft.offsets } satisfies LineIndex);
}

/**
 * Reads records of indexed NDJSON files. Indexes of versioned files are kept (a version never changes, and each
 * export activity would otherwise read its plan's index again); the cache is bounded and per reader.
 */
export class IndexedNdjsonReader {
  private readonly versionedIndexes = new Map<string, number[]>();

  constructor(
    private readonly vault: VaultStore,
    private readonly maxCachedIndexes = 200,
  ) {}

  /** Records `first … first + count - 1`; with `version`, the file must still be that version. */
  async read<T>(file: IndexedNdjsonFile, first: number, count: number, version?: string): Promise<T[]> {
    const offsets = await this.offsetsOf(file, version);
    checkRange(file, offsets, first, count);
    return this.readLines<T>(file, offsets, first, count);
  }

  /**
   * The same records one by one, in order, for a pass over a whole file: its index is read once (an unversioned
   * index would otherwise be read again for every record), and consecutive records come in reads of up to
   * `bytesPerRead` (one record at least), so memory holds the index and one read.
   */
  async *readInOrder<T>(
    file: IndexedNdjsonFile,
    first: number,
    count: number,
    options: { version?: string; bytesPerRead?: number } = {},
  ): AsyncGenerator<T> {
    if (count < 1) return;
    const offsets = await this.offsetsOf(file, options.version);
    checkRange(file, offsets, first, count);
    const bytesPerRead = options.bytesPerRead ?? BYTES_PER_READ;
    const end = first + count;
    for (let from = first; from < end;) {
      let to = from + 1;
      while (to < end && offsets[to + 1]! - offsets[from]! <= bytesPerRead) to++;
      yield* await this.readLines<T>(file, offsets, from, to - from);
      from = to;
    }
  }

  private async readLines<T>(file: IndexedNdjsonFile, offsets: number[], first: number, count: number): Promise<T[]> {
    const start = offsets[first]!;
    const text = (await this.vault.readRange(file.data, start, offsets[first + count]! - start)).toString('utf8');
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as T);
  }

  private async offsetsOf(file: IndexedNdjsonFile, version: string | undefined): Promise<number[]> {
    const key = `${file.index}/${version}`;
    const cached = version ? this.versionedIndexes.get(key) : undefined;
    if (cached) return cached;
    const index = await this.vault.readJson<LineIndex>(file.index);
    if (!index) throw new Error(`${capitalized(file.description)} is not in the vault`);
    const written = index.version ?? index.planVersion;
    if (version && written !== version)
      throw new Error(`${capitalized(file.description)} was replaced (version ${written}, expected ${version})`);
    if (version) this.remember(key, index.offsets);
    return index.offsets;
  }

  private remember(key: string, offsets: number[]): void {
    if (this.versionedIndexes.size >= this.maxCachedIndexes)
      this.versionedIndexes.delete(this.versionedIndexes.keys().next().value!);
    this.versionedIndexes.set(key, offsets);
  }
}

function checkRange(file: IndexedNdjsonFile, offsets: number[], first: number, count: number): void {
  if (offsets[first] === undefined || offsets[first + count] === undefined || count < 1)
    throw new Error(`Records ${first}–${first + count - 1} are not in ${file.description}`);
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
