import type { VaultStore } from './vaultStore.js';

/**
 * Records a sorter holds before it writes them out as a sorted run (about 0.8 KB each for manifest records with
 * long ids). Small, because V8 lets the heap grow with what is allocated, not only with what is held: the commit of
 * 100,000 items peaked at 94 MiB of heap with 20,000, 61 MiB with 5,000 (`npm run bench:heap`).
 */
export const DEFAULT_RECORDS_IN_MEMORY = 5_000;

/**
 * Runs read at once by a merge: each holds an open download and a gunzip stream (a few hundred KB with their
 * buffers), so a sort of more runs first merges some of them (above 5,000 × 64 = 320,000 records with the default
 * budget: at 1,000,000 records, 139 of its 200 runs are read and written once more).
 */
export const MAX_RUNS_MERGED_AT_ONCE = 64;

export interface SortOptions {
  vault: VaultStore;
  /** Where the sorted runs go (a run's scratch folder); each run is `<prefix><n>.ndjson.gz`. */
  prefix: string;
  /** Records held in memory at once: the sorter's memory does not grow with the number of records. */
  recordsInMemory?: number;
}

/**
 * Sorts any number of records in bounded memory: records gather up to a budget, are sorted and written to the
 * vault as a gzip NDJSON run, and the runs are merged on reading. Records with the same key come out in the order
 * they were added (the sort is stable, and a tie between runs goes to the earlier run).
 */
export class ExternalSorter<T> {
  private buffer: T[] = [];
  private runs: string[] = [];
  /** Every run ever written, merged away or not: what `discard` deletes. */
  private readonly written: string[] = [];
  private readonly limit: number;

  constructor(
    private readonly options: SortOptions,
    private readonly keyOf: (record: T) => string,
  ) {
    this.limit = options.recordsInMemory ?? DEFAULT_RECORDS_IN_MEMORY;
  }

  private count = 0;

  /** Records added so far. */
  get added(): number {
    return this.count;
  }

  async add(record: T): Promise<void> {
    this.count++;
    this.buffer.push(record);
    if (this.buffer.length >= this.limit) await this.spill();
  }

  /** Runs written to the vault so far (none while everything fits in memory). */
  get runNames(): readonly string[] {
    return this.runs;
  }

  /** Every record added, in key order. Read once. */
  async *sorted(): AsyncGenerator<T> {
    if (this.runs.length === 0) {
      const records = this.sortedBuffer();
      this.buffer = [];
      yield* records;
      return;
    }
    if (this.buffer.length > 0) await this.spill();
    await this.mergeDown();
    yield* readSortedRuns(this.options.vault, this.runs, this.keyOf);
  }

  /**
   * Ends the adding: what is left in memory stays there (at most the budget) when no run was written, else it is
   * written as a last run. The result reads every record in key order as often as asked.
   */
  async seal(): Promise<SortedRecords<T>> {
    if (this.runs.length > 0 && this.buffer.length > 0) await this.spill();
    await this.mergeDown();
    const held = this.runs.length === 0 ? this.sortedBuffer() : [];
    this.buffer = [];
    const { vault } = this.options;
    const runs = [...this.runs];
    return { read: () => (runs.length === 0 ? fromArray(held) : readSortedRuns(vault, runs, this.keyOf)) };
  }

  /**
   * Ends the adding with everything in the vault (a last run for what is in memory): the names returned, read
   * with `readSortedRuns`, give the records in key order in another process, as a checkpoint can name them.
   */
  async sealInVault(): Promise<string[]> {
    if (this.buffer.length > 0) await this.spill();
    await this.mergeDown();
    return [...this.runs];
  }

  /** Deletes the runs written to the vault. */
  async discard(): Promise<void> {
    for (const name of this.written) await this.options.vault.deleteIfExists(name);
  }

  private async spill(): Promise<void> {
    const records = this.sortedBuffer();
    this.buffer = [];
    this.runs.push(await this.writeRun(records));
  }

  /** Merges runs until a merge reads at most MAX_RUNS_MERGED_AT_ONCE; the runs merged away are deleted. */
  private async mergeDown(): Promise<void> {
    const { vault } = this.options;
    this.runs = await mergeRunsDown(this.runs, this.keyOf, {
      vault,
      write: (records) => this.writeRun(records),
      merged: (names) => Promise.all(names.map((name) => vault.deleteIfExists(name))),
    });
  }

  private async writeRun(records: AsyncIterable<T> | Iterable<T>): Promise<string> {
    const name = `${this.options.prefix}${String(this.written.length).padStart(5, '0')}.ndjson.gz`;
    this.written.push(name);
    await this.options.vault.writeNdjsonGz(name, records);
    return name;
  }

  private sortedBuffer(): T[] {
    const keyed = this.buffer.map((record) => ({ key: this.keyOf(record), record }));
    keyed.sort((a, b) => compareKeys(a.key, b.key));
    return keyed.map(({ record }) => record);
  }
}

/** Records sorted once, read any number of times. */
export interface SortedRecords<T> {
  read(): AsyncGenerator<T>;
}

async function* fromArray<T>(records: T[]): AsyncGenerator<T> {
  yield* records;
}

/**
 * The records of sorted runs (as `sealInVault` named them) in key order; none for no runs. Reads them all at once:
 * callers keep their number bounded (`mergeRunsDown`).
 */
export async function* readSortedRuns<T>(
  vault: VaultStore,
  runs: readonly string[],
  keyOf: (record: T) => string,
): AsyncGenerator<T> {
  if (runs.length === 0) return;
  yield* mergeSorted(
    runs.map((name) => vault.readNdjsonGz<T>(name)),
    keyOf,
  );
}

export interface MergeDownOptions<T> {
  vault: VaultStore;
  /** Writes a merged run and names it. */
  write: (records: AsyncIterable<T>) => Promise<string>;
  /** Told the runs each merge replaced, once it is written (to delete them, or leave them to a later clean-up). */
  merged?: (names: string[]) => Promise<unknown>;
  /** Runs a merge reads at once (MAX_RUNS_MERGED_AT_ONCE). */
  maxRuns?: number;
}

/**
 * Sorted runs, fewer: consecutive runs merged, no more of them than needed, until at most `maxRuns` remain, so
 * that reading them holds a bounded number of streams however many there were. Merging k runs leaves k − 1 fewer;
 * consecutive groups keep ties in run order. Past maxRuns² runs the merged runs are merged again.
 */
export async function mergeRunsDown<T>(
  runs: readonly string[],
  keyOf: (record: T) => string,
  options: MergeDownOptions<T>,
): Promise<string[]> {
  const maxRuns = options.maxRuns ?? MAX_RUNS_MERGED_AT_ONCE;
  const current = [...runs];
  let at = 0;
  while (current.length > maxRuns) {
    if (current.length - at < 2) at = 0;
    const size = Math.min(maxRuns, current.length - maxRuns + 1, current.length - at);
    const group = current.slice(at, at + size);
    current.splice(at, size, await options.write(readSortedRuns(options.vault, group, keyOf)));
    await options.merged?.(group);
    at++;
  }
  return current;
}

/**
 * The runs a checkpoint names, merged down (mergeRunsDown) into runs `<prefix><n>.ndjson.gz`. The runs merged away
 * are left in place: the checkpoint before this one names them, so they go only with the work's scratch.
 */
export function mergeRunsDownUnder<T>(
  vault: VaultStore,
  runs: readonly string[],
  keyOf: (record: T) => string,
  prefix: string,
): Promise<string[]> {
  let merges = 0;
  return mergeRunsDown(runs, keyOf, {
    vault,
    write: async (records) => {
      const name = `${prefix}${merges++}.ndjson.gz`;
      await vault.writeNdjsonGz(name, records);
      return name;
    },
  });
}

/**
 * Runs a checkpoint names, at most `maxRuns` of them: while there are more, the two neighbours that are smallest
 * together (in bytes) are merged into `<prefix><n>.ndjson.gz`. Runs added a slice at a time stay balanced so: a
 * merge reads two runs of about the average size, where merging the first runs again each time (mergeRunsDown
 * starts over at the first) would read a growing share of everything in every slice. Neighbours only, so ties
 * keep their order. The runs merged away are left in place, as in mergeRunsDownUnder.
 */
export async function mergeSmallestNeighbours<T>(
  vault: VaultStore,
  runs: readonly string[],
  keyOf: (record: T) => string,
  prefix: string,
  maxRuns = MAX_RUNS_MERGED_AT_ONCE,
): Promise<string[]> {
  const current = [...runs];
  if (current.length <= maxRuns) return current;
  const sizes = await Promise.all(
    current.map(async (name) => (await vault.container.getBlobClient(name).getProperties()).contentLength ?? 0),
  );
  for (let merges = 0; current.length > maxRuns; merges++) {
    let at = 0;
    for (let i = 1; i < current.length - 1; i++) if (sizes[i]! + sizes[i + 1]! < sizes[at]! + sizes[at + 1]!) at = i;
    const name = `${prefix}${merges}.ndjson.gz`;
    await vault.writeNdjsonGz(name, readSortedRuns(vault, current.slice(at, at + 2), keyOf));
    current.splice(at, 2, name);
    sizes.splice(at, 2, sizes[at]! + sizes[at + 1]!);
  }
  return current;
}

/** Plain code-unit order: the same in every sort and merge, whatever the locale. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Merges streams each already in key order into one; a tie goes to the earlier stream. Holds one record per
 * stream (the few runs of a sort, so a linear look over the heads is enough).
 */
export async function* mergeSorted<T>(sources: AsyncIterable<T>[], keyOf: (record: T) => string): AsyncGenerator<T> {
  const iterators = sources.map((source) => source[Symbol.asyncIterator]());
  const heads: Array<{ record: T; key: string } | undefined> = [];
  const advance = async (index: number) => {
    const next = await iterators[index]!.next();
    heads[index] = next.done ? undefined : { record: next.value, key: keyOf(next.value) };
  };
  try {
    await Promise.all(iterators.map((_, index) => advance(index)));
    for (;;) {
      let least = -1;
      for (let index = 0; index < heads.length; index++) {
        const head = heads[index];
        if (head && (least < 0 || compareKeys(head.key, heads[least]!.key) < 0)) least = index;
      }
      if (least < 0) return;
      const { record, key } = heads[least]!;
      yield record;
      await advance(least);
      const next = heads[least];
      if (next && compareKeys(next.key, key) < 0)
        throw new Error(`Merged input out of order: ${next.key} after ${key}`);
    }
  } finally {
    await Promise.all(iterators.map((iterator) => iterator.return?.()));
  }
}

/**
 * Groups consecutive records of a stream in key order by key: the records of one key, in the order they came.
 */
export async function* groupByKey<T>(
  records: AsyncIterable<T>,
  keyOf: (record: T) => string,
): AsyncGenerator<{ key: string; records: T[] }> {
  let current: { key: string; records: T[] } | undefined;
  for await (const record of records) {
    const key = keyOf(record);
    if (current && current.key === key) current.records.push(record);
    else {
      if (current) yield current;
      current = { key, records: [record] };
    }
  }
  if (current) yield current;
}
