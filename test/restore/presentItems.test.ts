import { describe, expect, it } from 'vitest';
import { withoutPresentItems } from '../../shared/restore/presentItems.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
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

  it('keeps the selection order past ten items, from its first item on', async () => {
    const { vault } = await freshVault('present');
    const sort = { vault, prefix: 'restores/r3/plan-sort/', ...limits };
    // Twelve items whose search keys sort against their order; the target holds every third.
    const items: Item[] = Array.from({ length: 12 }, (_, n) => ({ id: `item-${n}`, searchKey: `k${99 - n}` }));
    const target = items.filter((_, n) => n % 3 === 1).map((item) => item.searchKey!);
    const kept = await collect(withoutPresentItems(streamOf(items), streamOf(target), sort, () => {}));
    expect(kept.map((item) => item.id)).toEqual(items.filter((_, n) => n % 3 !== 1).map((item) => item.id));
  });

  it("takes the target's keys in key order as they come when told they are sorted", async () => {
    const { vault } = await freshVault('present');
    let skipped = 0;
    const sort = { vault, prefix: 'restores/r4/plan-sort/', targetKeysSorted: true, ...limits };
    const sortedKeys = [...TARGET_KEYS].sort();
    const kept = await collect(withoutPresentItems(streamOf(SELECTION), streamOf(sortedKeys), sort, () => skipped++));
    expect(kept.map((item) => item.id)).toEqual(['inbox-3', 'inbox-4', 'sent-1', 'sent-4', 'drafts-1']);
    expect(skipped).toBe(4);
    expect(await collect(vault.listNames('restores/r4/'))).toEqual([]);
  });
});

/**
 * The selection, and then (once it has all been read) the names in the skip's folder: a skip by sorting has the
 * target's keys in sorted runs in the vault by then, one holding them in a set has written nothing.
 */
async function* selectionThenLook(items: Item[], vault: VaultStore, prefix: string, seen: string[][]) {
  yield* items;
  seen.push(await collect(vault.listNames(prefix)));
}

describe('the restore plan holds at most keysInMemory target keys', () => {
  it('compares a target of that many keys in memory, and sorts one key more through the vault', async () => {
    const { vault } = await freshVault('present');
    const target = ['k7', 'k2', 'k5'];
    const sort = { vault, prefix: 'restores/r5/plan-sort/', keysInMemory: 3, recordsInMemory: 2 };
    const seen: string[][] = [];
    const ids = async (keys: string[]) =>
      (
        await collect(
          withoutPresentItems(selectionThenLook(SELECTION, vault, sort.prefix, seen), streamOf(keys), sort, () => {}),
        )
      ).map((item) => item.id);

    expect(await ids(target)).toEqual(['inbox-3', 'inbox-4', 'sent-1', 'sent-4', 'drafts-1']);
    expect(seen.pop()).toEqual([]);

    expect(await ids([...target, 'k1'])).toEqual(['inbox-3', 'inbox-4', 'sent-4', 'drafts-1']);
    expect(seen.pop()!.length).toBeGreaterThan(0);
    expect(await collect(vault.listNames('restores/r5/'))).toEqual([]);
  });
});
