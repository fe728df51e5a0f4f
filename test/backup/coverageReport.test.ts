import { describe, expect, it } from 'vitest';
import { coverageRecords, type CoverageInput } from '../../shared/backup/coverage.js';
import { compareCoverage, coverageProblems, type FolderTallies } from '../../shared/backup/coverageReport.js';
import type { MailboxClient } from '../../shared/graph/index.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { collect } from '../support/graph.js';

async function* collectNothing(): AsyncGenerator<never> {}

/** The arithmetic of the proof of coverage, folder by folder (the whole flow runs in coverage.test.ts). */
function tallies(
  counts: FolderTallies['counts'],
  inSnapshot: Record<string, number>,
  failed: Record<string, number> = {},
) {
  return {
    counts,
    inSnapshot: new Map(Object.entries(inSnapshot)),
    failed: new Map(Object.entries(failed)),
    pathOf: (id: string) => `Folder ${id}`,
    failedFolders: new Set<string>(),
  } satisfies FolderTallies;
}

describe('comparing a snapshot with Exchange’s counts', () => {
  it('explains a shortfall by named failures and arrivals, and calls only the rest a problem', () => {
    const counts = new Map([
      ['a', { exchangeCount: 10, missedByDelta: 0, arrivedDuringRun: 0 }],
      ['b', { exchangeCount: 10, missedByDelta: 0, arrivedDuringRun: 1 }],
      ['c', { exchangeCount: 10, missedByDelta: 0, arrivedDuringRun: 0 }],
      ['d', { exchangeCount: 10, missedByDelta: 0, arrivedDuringRun: 0 }],
    ]);
    const { summary, problemFolderIds } = compareCoverage(tallies(counts, { a: 10, b: 8, c: 7, d: 12 }, { b: 1 }));
    expect(summary.foldersCompared).toBe(4);
    expect(summary.folders.map((f) => [f.folderPath, f.difference, f.unexplained])).toEqual([
      ['Folder b', 2, 0],
      ['Folder c', 3, 3],
      ['Folder d', -2, 0],
    ]);
    expect([...problemFolderIds]).toEqual(['c']);
    expect(coverageProblems(summary)).toBe(1);
  });

  it('names a folder with items whose count Exchange did not give, and skips an empty one', async () => {
    const input: CoverageInput = {
      mailboxId: 'MBX:1',
      counts: new Map(),
      rounds: new Map([
        ['withItems', { full: true }],
        ['empty', { full: true }],
      ]),
      expected: (folderId) => (folderId === 'withItems' ? 2 : 0),
      roundsById: () => collectNothing(),
      previousById: () => collectNothing(),
      planStartedAt: new Date(),
      sort: { vault: {} as VaultStore, prefix: 'unused/' },
    };
    const records = await collect(coverageRecords({} as MailboxClient, input));
    expect(records).toEqual([
      { note: { kind: 'folderNotCompared', folderId: 'withItems', reason: expect.any(String) } },
    ]);
    const { summary } = compareCoverage(tallies(new Map(), {}), undefined, [
      { folderId: 'withItems', reason: 'no count' },
    ]);
    expect(summary.notCompared).toEqual([{ folderPath: 'Folder withItems', reason: 'no count' }]);
    expect(coverageProblems(summary)).toBe(0);
  });
});
