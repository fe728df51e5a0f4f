import { describe, expect, it } from 'vitest';
import {
  ExternalSorter,
  MAX_RUNS_MERGED_AT_ONCE,
  mergeRunsDown,
  mergeSmallestNeighbours,
  readSortedRuns,
} from '../../shared/vault/externalSort.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

interface Numbered {
  key: string;
  n: number;
}

/** Counts the NDJSON streams open at once on a real vault (Azurite), and the most there were. */
function countingOpenStreams(vault: VaultStore): { most: () => number } {
  const read = vault.readNdjsonGz.bind(vault);
  let open = 0;
  let most = 0;
  vault.readNdjsonGz = <T>(name: string, options?: { missingOk?: boolean }) =>
    (async function* () {
      most = Math.max(most, ++open);
      try {
        yield* read<T>(name, options);
      } finally {
        open--;
      }
    })();
  return { most: () => most };
}

async function namesUnder(vault: VaultStore, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const name of vault.listNames(prefix)) names.push(name);
  return names;
}

function expectSortedAndStable(out: Numbered[], count: number): void {
  expect(out.length).toBe(count);
  for (let i = 1; i < out.length; i++) {
    const [a, b] = [out[i - 1]!, out[i]!];
    expect(a.key <= b.key).toBe(true);
    if (a.key === b.key) expect(a.n).toBeLessThan(b.n);
  }
}

describe('a sort of more runs than a merge reads at once', () => {
  it('merges them in groups first: never more streams open than the limit, order and ties kept', async () => {
    const { vault } = await freshVault();
    const streams = countingOpenStreams(vault);
    const sorter = new ExternalSorter<Numbered>({ vault, prefix: 'sort/', recordsInMemory: 3 }, (r) => r.key);
    const count = 3 * (2 * MAX_RUNS_MERGED_AT_ONCE + 5);
    for (let n = 0; n < count; n++) await sorter.add({ key: `k${(n * 7) % 23}`, n });
    expect(sorter.runNames.length).toBe(2 * MAX_RUNS_MERGED_AT_ONCE + 5);

    const out: Numbered[] = [];
    for await (const record of sorter.sorted()) out.push(record);

    expectSortedAndStable(out, count);
    expect(streams.most()).toBeLessThanOrEqual(MAX_RUNS_MERGED_AT_ONCE);
    // No more merged than needed: the limit of runs is left, and the runs merged away are gone.
    expect(sorter.runNames.length).toBe(MAX_RUNS_MERGED_AT_ONCE);
    expect((await namesUnder(vault, 'sort/')).sort()).toEqual([...sorter.runNames].sort());
    await sorter.discard();
    expect(await namesUnder(vault, 'sort/')).toEqual([]);
  });

  it('hands another process at most the limit of runs to read (sealInVault)', async () => {
    const { vault } = await freshVault();
    const sorter = new ExternalSorter<Numbered>({ vault, prefix: 'sealed/', recordsInMemory: 1 }, (r) => r.key);
    const count = MAX_RUNS_MERGED_AT_ONCE + 1;
    for (let n = 0; n < count; n++) await sorter.add({ key: `k${n % 5}`, n });
    const runs = await sorter.sealInVault();
    expect(runs.length).toBeLessThanOrEqual(MAX_RUNS_MERGED_AT_ONCE);
    const out: Numbered[] = [];
    for (const name of runs) for await (const record of vault.readNdjsonGz<Numbered>(name)) out.push(record);
    expect(out.map((r) => r.n).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, n) => n));
  });

  it('mergeRunsDown merges merged runs again past the limit squared, and leaves the merged runs to the caller', async () => {
    const { vault } = await freshVault();
    const runs: string[] = [];
    for (let r = 0; r < 5; r++) {
      const name = `runs/${r}.ndjson.gz`;
      await vault.writeNdjsonGz(name, [{ key: `k${r}`, n: r }]);
      runs.push(name);
    }
    let written = 0;
    const fewer = await mergeRunsDown<Numbered>(runs, (r) => r.key, {
      vault,
      maxRuns: 2,
      write: async (records) => {
        const name = `merged/${written++}.ndjson.gz`;
        await vault.writeNdjsonGz(name, records);
        return name;
      },
    });
    expect(fewer.length).toBeLessThanOrEqual(2);
    expect((await namesUnder(vault, 'runs/')).length).toBe(5);
    const out: Numbered[] = [];
    for (const name of fewer) for await (const record of vault.readNdjsonGz<Numbered>(name)) out.push(record);
    expect(out.map((r) => r.n)).toEqual([0, 1, 2, 3, 4]);
  });

  it('mergeSmallestNeighbours keeps runs added one at a time under the limit by merging small neighbours', async () => {
    const { vault } = await freshVault();
    /** Per slice, a name per record read. */
    const merged: string[][] = [];
    const read = vault.readNdjsonGz.bind(vault);
    let runs: string[] = [];
    // A run a "slice" of 20 records (ties across runs on purpose), each time merged down to at most 4 runs.
    for (let slice = 0; slice < 12; slice++) {
      const name = `slices/${String(slice).padStart(2, '0')}.ndjson.gz`;
      const records = Array.from({ length: 20 }, (_, i) => ({
        key: `k${String(i % 10).padStart(2, '0')}`,
        n: slice * 100 + i,
      }));
      await vault.writeNdjsonGz(
        name,
        records.sort((a, b) => a.key.localeCompare(b.key) || a.n - b.n),
      );
      const opened: string[] = [];
      vault.readNdjsonGz = <T>(blob: string, options?: { missingOk?: boolean }) =>
        (async function* () {
          for await (const record of read<T>(blob, options)) {
            opened.push(blob);
            yield record;
          }
        })();
      runs = await mergeSmallestNeighbours<Numbered>(vault, [...runs, name], (r) => r.key, `merged/${slice}-`, 4);
      vault.readNdjsonGz = read;
      merged.push(opened);
      expect(runs.length).toBeLessThanOrEqual(4);
    }
    // Each slice past the limit merges one pair of about the average run's size (twice the records over the
    // limit), never a growing first run again (at the last slice that would read 180 of the 240 records).
    merged.forEach((opened, slice) => {
      expect(new Set(opened).size).toBe(slice < 4 ? 0 : 2);
      expect(opened.length).toBeLessThanOrEqual((2 * 20 * (slice + 1)) / 4);
    });
    const out: Numbered[] = [];
    for await (const record of readSortedRuns<Numbered>(vault, runs, (r) => r.key)) out.push(record);
    expectSortedAndStable(out, 12 * 20);
  });
});
