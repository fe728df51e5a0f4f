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
import { collect } from '../support/graph.js';
import { freshVault } from '../support/vault.js';

/**
 * The listing of the target's keys, slice by slice, against a Graph stand-in whose folders answer pages of 2 items
 * and whose page links can be refused (an expired link) or whose pages can fail (a folder Graph will not list).
 */
const PAGE = 2;

function fakeGraph(folders: Record<string, string[]>, refuse: { links?: boolean; pageOf?: [string, number] } = {}) {
  const refusal = (operation: string) =>
    new GraphRequestError({ status: 400, code: 'BadRequest', message: 'refused', operation });
  const graph = {
    async *listItemPages(_mailbox: string, folderId: string, options: { from?: string } = {}) {
      if (options.from && refuse.links) throw refusal('listItems (page link)');
      const keys = folders[folderId]!;
      for (let at = options.from ? Number(options.from.split('#')[1]) : 0; at < keys.length; at += PAGE) {
        if (refuse.pageOf?.[0] === folderId && refuse.pageOf[1] === at) throw refusal('listItems');
        const items = keys.slice(at, at + PAGE).map((key) => ({
          id: `${folderId}-${key}`,
          singleValueExtendedProperties: [{ id: SEARCH_KEY_PROPERTY, value: key }],
        }));
        yield at + PAGE < keys.length ? { items, nextLink: `${folderId}#${at + PAGE}` } : { items };
      }
    },
  };
  return graph as unknown as MailboxClient;
}

const FOLDERS = { inbox: ['k05', 'k01', 'k09', 'k03', 'k07'], sent: ['k02', 'k08', 'k04', 'k06'], search: [] };

async function listAll(graph: MailboxClient, budget: number, folderIds = ['inbox', 'sent']) {
  const { vault } = await freshVault('keys');
  let progress: TargetKeysProgress = startTargetKeys(folderIds);
  let calls = 0;
  for (; !targetKeysListed(progress); calls++) {
    const sort = { vault, prefix: `keys/s${calls}-`, recordsInMemory: 2 };
    progress = (await listTargetKeys(graph, 'target', progress, budget, sort)).progress;
  }
  return { keys: await collect(listedTargetKeys(vault, progress)), calls, progress };
}

describe("the target's keys, listed slice by slice", () => {
  it('reads every key once, in key order, resuming each folder at the page where a slice stopped', async () => {
    const { keys, calls, progress } = await listAll(fakeGraph(FOLDERS), 3);
    expect(keys).toEqual(['k01', 'k02', 'k03', 'k04', 'k05', 'k06', 'k07', 'k08', 'k09']);
    expect(calls).toBe(3);
    expect(progress.keys).toBe(9);
  });

  it('reads a folder whose page link expired again, whole, in the slice that found it out', async () => {
    const { keys, calls } = await listAll(fakeGraph(FOLDERS, { links: true }), 3);
    expect([...new Set(keys)]).toEqual(['k01', 'k02', 'k03', 'k04', 'k05', 'k06', 'k07', 'k08', 'k09']);
    expect(calls).toBeLessThan(6);
  });

  it('passes over a folder Graph will not list, and fails on a page refused inside a folder', async () => {
    const skipped = await listAll(fakeGraph(FOLDERS, { pageOf: ['search', 0] }), 100, ['search', 'sent']);
    expect(skipped.keys).toEqual(['k02', 'k04', 'k06', 'k08']);
    await expect(listAll(fakeGraph(FOLDERS, { pageOf: ['inbox', 2] }), 100)).rejects.toThrow(/refused/);
  });
});
