import { describe, expect, it } from 'vitest';
import { withoutPresentItems } from '../../shared/restore/presentItems.js';
import { collect } from '../support/graph.js';
import { freshVault } from '../support/vault.js';

/**
 * A restore plan's skip of items the target already holds, both ways: with the target's keys held in a set, and by
 * sorting with two keys held and sorts of two records in memory, so that every sort writes runs to the vault
 * (Azurite) and merges them. The target's keys come in any order and repeat; the selection holds items without a
 * search key and two copies of one item.
 */
type Item = { id: string; searchKey?: string };

const SELECTION: Item[] = [
  { id: 'inbox-1', searchKey: 'k7' },
  { id: 'inbox-2', searchKey: 'k2' },
  { id: 'inbox-3' },
  { id: 'inbox-4', searchKey: 'k9' },
  { id: 'sent-1', searchKey: 'k1' },
  { id: 'sent-2', searchKey: 'k2' },
  { id: 'sent-3', searchKey: 'k5' },
  { id: 'sent-4' },
  { id: 'drafts-1', searchKey: 'k3' },
];
const TARGET_KEYS = ['k5', 'k2', 'k8', 'k2', 'k0', 'k7', 'k4'];

async function* streamOf<T>(values: T[]): AsyncGenerator<T> {
  yield* values;
}

describe.each([
  { way: 'keys held in a set', limits: {} },
  { way: 'sorting through the vault', limits: { keysInMemory: 2, recordsInMemory: 2 } },
])('the restore plan skips what the target holds, by $way', ({ limits }) => {
  it('keeps the rest in the selection order, and leaves no sorted runs behind', async () => {
    const { vault } = await freshVault('present');
    let skipped = 0;
    const sort = { vault, prefix: 'restores/r1/plan-sort/', ...limits };
    const kept = await collect(withoutPresentItems(streamOf(SELECTION), streamOf(TARGET_KEYS), sort, () => skipped++));
    expect(kept.map((item) => item.id)).toEqual(['inbox-3', 'inbox-4', 'sent-1', 'sent-4', 'drafts-1']);
    expect(skipped).toBe(4); // k7, both copies of k2, k5
    expect(await collect(vault.listNames('restores/r1/'))).toEqual([]);
  });

  it('keeps everything for an empty target, and skips everything the target holds', async () => {
    const { vault } = await freshVault('present');
    const sort = { vault, prefix: 'restores/r2/plan-sort/', ...limits };
    const none = await collect(withoutPresentItems(streamOf(SELECTION), streamOf([]), sort, () => {}));
    expect(none).toEqual(SELECTION);
    const all = SELECTION.flatMap((item) => (item.searchKey ? [item.searchKey] : []));
    const left = await collect(withoutPresentItems(streamOf(SELECTION), streamOf(all.reverse()), sort, () => {}));
    expect(left.map((item) => item.id)).toEqual(['inbox-3', 'sent-4']);
  });
});
