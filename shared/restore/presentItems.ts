import { compareKeys, ExternalSorter } from '../vault/externalSort.js';
import type { VaultStore } from '../vault/vaultStore.js';

/** Where and how the skip's sorts run (a restore's scratch folder in the vault). */
export interface PresentItemsSort {
  vault: VaultStore;
  /** Folder of the sorted runs, e.g. `restores/{id}/plan-sort/`; its runs are deleted when the skip is done. */
  prefix: string;
  /** Records each sort holds in memory (tests make it small to exercise the runs). */
  recordsInMemory?: number;
  /** Target keys held in a set before the skip sorts instead (default KEYS_IN_MEMORY). */
  keysInMemory?: number;
  /** The target's keys come in key order already (a sliced plan sorted them once): they are not sorted again. */
  targetKeysSorted?: boolean;
}

/** Target keys held as a set (about 75 bytes each): a target up to this size is compared without sorting. */
export const KEYS_IN_MEMORY = 100_000;

/** Sequence numbers as sort keys: their order is the selection's order. */
const sequenceKey = (n: number) => String(n).padStart(12, '0');

/**
 * The selected items less those whose search key the target already holds (`onSkipped` for each), in the
 * selection's order, in memory that does not grow with the selection or the target. A target of up to
 * `keysInMemory` keys is held as a set (about 7 MiB at the default). A larger one (a million items would cost about
 * 75 MiB held that way) is compared by sorting: its keys and the selection are each sorted by search key through
 * the vault, merged to drop the present ones, and what is left sorted back into the selection's order (folder by
 * folder, as the plan's batches take them).
 */
export async function* withoutPresentItems<T extends { searchKey?: string }>(
  selection: AsyncIterable<T>,
  targetKeys: AsyncIterable<string>,
  sort: PresentItemsSort,
  onSkipped: () => void,
): AsyncGenerator<T> {
  const keys = targetKeys[Symbol.asyncIterator]();
  const held = new Set<string>();
  const limit = sort.keysInMemory ?? KEYS_IN_MEMORY;
  let next = await keys.next();
  for (; !next.done && held.size < limit; next = await keys.next()) held.add(next.value);
  if (next.done) {
    for await (const item of selection)
      if (item.searchKey && held.has(item.searchKey)) onSkipped();
      else yield item;
    return;
  }
  yield* bySorting(selection, restOf(held, next.value, keys), sort, onSkipped);
}

/** The held keys, the one read past the limit, and the rest of the stream. */
async function* restOf(held: Set<string>, last: string, rest: AsyncIterator<string>): AsyncGenerator<string> {
  yield* held;
  held.clear();
  yield last;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/** The skip by sorting both sides through the vault (see above). */
async function* bySorting<T extends { searchKey?: string }>(
  selection: AsyncIterable<T>,
  targetKeys: AsyncIterable<string>,
  sort: PresentItemsSort,
  onSkipped: () => void,
): AsyncGenerator<T> {
  const budget = sort.recordsInMemory ? { recordsInMemory: sort.recordsInMemory } : {};
  const sorter = <R>(part: string, keyOf: (record: R) => string) =>
    new ExternalSorter<R>({ vault: sort.vault, prefix: `${sort.prefix}${part}-`, ...budget }, keyOf);
  const present = sorter<{ key: string }>('target', (r) => r.key);
  const byKey = sorter<{ n: number; item: T }>('selection', (r) => r.item.searchKey ?? '');
  const kept = sorter<{ n: number; item: T }>('kept', (r) => sequenceKey(r.n));
  try {
    if (!sort.targetKeysSorted) for await (const key of targetKeys) await present.add({ key });
    let n = 0;
    for await (const item of selection) await byKey.add({ n: n++, item });
    const targetIterator = (sort.targetKeysSorted ? keyRecords(targetKeys) : present.sorted())[Symbol.asyncIterator]();
    let target = await targetIterator.next();
    for await (const record of byKey.sorted()) {
      const key = record.item.searchKey;
      // An item without a search key cannot be matched: it is always imported.
      while (key && !target.done && compareKeys(target.value.key, key) < 0) target = await targetIterator.next();
      if (key && !target.done && target.value.key === key) onSkipped();
      else await kept.add(record);
    }
    for await (const record of kept.sorted()) yield record.item;
  } finally {
    await Promise.all([present.discard(), byKey.discard(), kept.discard()]);
  }
}

async function* keyRecords(keys: AsyncIterable<string>): AsyncGenerator<{ key: string }> {
  for await (const key of keys) yield { key };
}
