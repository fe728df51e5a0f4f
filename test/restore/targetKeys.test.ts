import { describe, expect, it } from 'vitest';
import { GraphRequestError, type MailboxClient } from '../../shared/graph/index.js';
import { SEARCH_KEY_PROPERTY } from '../../shared/mailbox/index.js';
import {
  listedTargetKeys,
  listTargetKeys,
  startTargetKeys,
  targetKeysListed,
  type TargetKeysProgress,
} from '../../shared/restore/targetKeys.js';
import { MAX_RUNS_MERGED_AT_ONCE } from '../../shared/vault/externalSort.js';
import { collect } from '../support/graph.js';
import { freshVault } from '../support/vault.js';

/**
 * The listing of the target's keys, slice by slice, against a Graph stand-in whose folders answer pages of 2 items
 * (an empty folder one empty page), with the search key only when the listing asks for it (a page link carries
 * what its listing asked for), and whose page links can be refused (an expired link) or whose pages can fail (a
 * folder Graph will not list). A folder's key `null` is an item without a search key.
 */
const PAGE = 2;

type Refusals = { links?: boolean; pageOf?: [string, number]; status?: number };

function fakeGraph(folders: Record<string, Array<string | null>>, refuse: Refusals = {}) {
  const refusal = (operation: string) =>
    new GraphRequestError({ status: refuse.status ?? 400, code: 'BadRequest', message: 'refused', operation });
  const graph = {
    async *listItemPages(
      _mailbox: string,
      folderId: string,
      options: { from?: string; extendedProperties?: string[] } = {},
    ) {
      if (options.from && refuse.links) throw refusal('listItems (page link)');
      const [, from, asked] = options.from?.split('#') ?? [];
      const withKeys = options.from
        ? asked === 'keys'
        : (options.extendedProperties ?? []).includes(SEARCH_KEY_PROPERTY);
      const keys = folders[folderId]!;
      let at = Number(from ?? 0);
      do {
        if (refuse.pageOf?.[0] === folderId && refuse.pageOf[1] === at) throw refusal('listItems');
        const items = keys.slice(at, at + PAGE).map((key, i) => ({
          id: `${folderId}-${at + i}`,
          ...(key && withKeys ? { singleValueExtendedProperties: [{ id: SEARCH_KEY_PROPERTY, value: key }] } : {}),
        }));
        at += PAGE;
        yield at < keys.length ? { items, nextLink: `${folderId}#${at}#${withKeys ? 'keys' : ''}` } : { items };
      } while (at < keys.length);
    },
  };
  return graph as unknown as MailboxClient;
}

const FOLDERS = { inbox: ['k05', 'k01', 'k09', 'k03', 'k07'], sent: ['k02', 'k08', 'k04', 'k06'], search: [] };

/** Lists the target's keys a slice at a time; `reads` has the items each slice read. */
async function listAll(graph: MailboxClient, budget: number, folderIds = ['inbox', 'sent']) {
  const { vault } = await freshVault('keys');
  let progress: TargetKeysProgress = startTargetKeys(folderIds);
  const reads: number[] = [];
  for (; !targetKeysListed(progress);) {
    const sort = { vault, prefix: `keys/s${reads.length}-`, recordsInMemory: 2 };
    const listed = await listTargetKeys(graph, 'target', progress, budget, sort);
    progress = listed.progress;
    reads.push(listed.itemsRead);
  }
  return { keys: await collect(listedTargetKeys(vault, progress)), calls: reads.length, reads, progress, vault };
}

describe("the target's keys, listed slice by slice", () => {
  it('reads every key once, in key order, resuming each folder at the page where a slice stopped', async () => {
    const { keys, reads, progress, vault } = await listAll(fakeGraph(FOLDERS), 3);
    expect(keys).toEqual(['k01', 'k02', 'k03', 'k04', 'k05', 'k06', 'k07', 'k08', 'k09']);
    // Each slice stops at the end of the page that reached its budget of 3, or where the folders end.
    expect(reads).toEqual([4, 3, 2]);
    expect(progress.keys).toBe(9);
    // The keys wait in the vault in sorted runs of at most the sort's 2 records in memory.
    for (const run of progress.runs) expect((await collect(vault.readNdjsonGz(run))).length).toBeLessThanOrEqual(2);
  });

  it('counts every item read against the budget, but lists only the search keys there are', async () => {
    const folders = { contacts: ['k12', null, 'k10', null, null, 'k11'] };
    const { keys, reads, progress } = await listAll(fakeGraph(folders), 100, ['contacts']);
    expect(keys).toEqual(['k10', 'k11', 'k12']);
    expect(reads).toEqual([6]);
    expect(progress.keys).toBe(3);
  });

  it('reads a folder whose page link expired again, whole, in the slice that found it out', async () => {
    const { keys, reads } = await listAll(fakeGraph(FOLDERS, { links: true }), 3);
    expect([...new Set(keys)]).toEqual(['k01', 'k02', 'k03', 'k04', 'k05', 'k06', 'k07', 'k08', 'k09']);
    // The first slice stops in the inbox at its budget; the second finds that link expired and reads all 5 of the
    // inbox (once more, over its budget), the third the sent items through one listing, never resuming a link.
    expect(reads).toEqual([4, 5, 4]);
  });

  it('passes over a folder Graph will not list, and fails on a page refused inside a folder', async () => {
    const skipped = await listAll(fakeGraph(FOLDERS, { pageOf: ['search', 0] }), 100, ['search', 'sent']);
    expect(skipped.keys).toEqual(['k02', 'k04', 'k06', 'k08']);
    await expect(listAll(fakeGraph(FOLDERS, { pageOf: ['inbox', 2] }), 100)).rejects.toThrow(/refused/);
  });

  it('fails, to be tried again, when a listing is throttled (429) or times out (408) past its retries', async () => {
    for (const status of [429, 408])
      await expect(listAll(fakeGraph(FOLDERS, { pageOf: ['sent', 0], status }), 100)).rejects.toThrow(/refused/);
  });

  it(`merges the runs of its slices down to ${MAX_RUNS_MERGED_AT_ONCE}, in the slice's folder, in key order`, async () => {
    // Sorts of one record: the first slice leaves one run a key, the second slice's runs go past the limit.
    const key = (n: number) => `k${String(n).padStart(3, '0')}`;
    const many = Array.from({ length: MAX_RUNS_MERGED_AT_ONCE }, (_, n) => key((n * 37) % MAX_RUNS_MERGED_AT_ONCE));
    const more = [key(MAX_RUNS_MERGED_AT_ONCE + 1), key(MAX_RUNS_MERGED_AT_ONCE)];
    const graph = fakeGraph({ many, more });
    const { vault } = await freshVault('keys');
    let progress = startTargetKeys(['many', 'more']);
    for (const slice of [0, 1]) {
      const sort = { vault, prefix: `restores/r1/plan-keys/s${slice}-`, recordsInMemory: 1 };
      progress = (await listTargetKeys(graph, 'target', progress, MAX_RUNS_MERGED_AT_ONCE, sort)).progress;
    }
    expect(targetKeysListed(progress)).toBe(true);
    expect(progress.runs.length).toBe(MAX_RUNS_MERGED_AT_ONCE);
    for (const run of progress.runs) expect(run.startsWith('restores/r1/plan-keys/s')).toBe(true);
    const all = Array.from({ length: MAX_RUNS_MERGED_AT_ONCE + 2 }, (_, n) => key(n));
    expect(await collect(listedTargetKeys(vault, progress))).toEqual(all);
  });
});
