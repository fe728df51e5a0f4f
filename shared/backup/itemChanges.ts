import { IndexedNdjsonReader } from '../vault/indexedNdjson.js';
import type { ExternalSorter } from '../vault/externalSort.js';
import { groupByKey, mergeSorted } from '../vault/externalSort.js';
import { layout } from '../vault/layout.js';
import type { ItemMeta } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { planFile } from './plan.js';
import type { BatchResult, ItemResult, PlannedBatch, StoredRef } from './types.js';

/** The order of every stream the commit merges: folder, then item id. */
export function itemKey(folderId: string, id: string): string {
  return `${folderId}\u0000${id}`;
}

/** A change list's item records (upsert or remove), as the commit sorts them. */
export type ItemChangeRecord =
  { kind: 'upsert'; item: ItemMeta; known?: StoredRef } | { kind: 'remove'; id: string; folderId: string };

export const changeKey = (record: ItemChangeRecord): string =>
  record.kind === 'upsert' ? itemKey(record.item.folderId, record.item.id) : itemKey(record.folderId, record.id);

/** An export outcome with the folder its item was planned in. */
export type PlacedOutcome = ItemResult & { folderId: string };

export const outcomeKey = (outcome: PlacedOutcome): string => itemKey(outcome.folderId, outcome.id);

/** Everything the run says about one item: its last listing (if any), whether it was removed, its export outcome. */
export interface ItemChange {
  key: string;
  folderId: string;
  id: string;
  upsert?: { meta: ItemMeta; known?: StoredRef };
  removed: boolean;
  outcome?: ItemResult;
}

/** Batch results and plan batches read at once. */
const BATCHES_PER_READ = 16;

/** Where reading the outcomes stands: batch results read so far (in batch order), and whether that was all. */
export interface OutcomesRead {
  batchesRead: number;
  done: boolean;
  throttledResponses: number;
  throttleWaitInMs: number;
}

/**
 * The run's export outcomes handed to `sorter` (keyed by `outcomeKey`), throttling summed, from the batch after
 * `batchesRead` on, until `budget` were read (an outcome each, a batch at least one; it stops between reads of 16
 * batches) or none are left.
 * Each batch result is matched with its plan batch for the folder of each item (results name ids only). Memory:
 * 16 batches.
 */
export async function sortOutcomes(
  vault: VaultStore,
  input: { runId: string; mailboxId: string; planVersion: string; batchCount?: number },
  sorter: ExternalSorter<PlacedOutcome>,
  from: { batchesRead: number; budget: number } = { batchesRead: 0, budget: Infinity },
): Promise<OutcomesRead> {
  const { runId, mailboxId, planVersion } = input;
  const read: OutcomesRead = { batchesRead: from.batchesRead, done: true, throttledResponses: 0, throttleWaitInMs: 0 };
  const plans = new IndexedNdjsonReader(vault, 1);
  // A batch costs its outcomes, and at least one: batches without a result (a failed activity) are read too.
  let spent = 0;
  for await (const { results, names } of batchResultGroups(vault, input, from.batchesRead)) {
    if (spent >= from.budget) {
      read.done = false;
      break;
    }
    read.batchesRead += names;
    spent += names - results.length + results.reduce((sum, result) => sum + Math.max(1, result.results.length), 0);
    if (results.length === 0) continue;
    // The group's plan batches in one ranged read (a read per batch is all latency at 50,000 batches).
    const first = Math.min(...results.map((r) => r.batch));
    const last = Math.max(...results.map((r) => r.batch));
    const planned = await plans.read<PlannedBatch>(planFile(runId, mailboxId), first, last - first + 1, planVersion);
    for (const result of results) {
      read.throttledResponses += result.throttledResponses;
      read.throttleWaitInMs += result.throttleWaitInMs;
      const folderOf = new Map(planned[result.batch - first]!.items.map((item) => [item.id, item.folderId]));
      for (const outcome of result.results) {
        const folderId = folderOf.get(outcome.id);
        if (folderId !== undefined) await sorter.add({ ...outcome, folderId });
      }
    }
  }
  return read;
}

/**
 * The run's batch results of this plan from the one after `skip` on, a few at a time, each group with the number
 * of results it read (a missing result is a batch whose activity failed).
 */
async function* batchResultGroups(
  vault: VaultStore,
  input: { runId: string; mailboxId: string; planVersion: string; batchCount?: number },
  skip: number,
): AsyncGenerator<{ results: BatchResult[]; names: number }> {
  const { runId, mailboxId } = input;
  const names = async function* (): AsyncGenerator<string> {
    if (input.batchCount === undefined) {
      let listed = 0;
      for await (const name of vault.listNames(layout.runBatchResultsPrefix(runId, mailboxId)))
        if (listed++ >= skip) yield name;
    } else
      for (let batch = skip; batch < input.batchCount; batch++) yield layout.runBatchResult(runId, mailboxId, batch);
  };
  let group: string[] = [];
  const read = async () => {
    const results = await Promise.all(group.map((name) => vault.readJson<BatchResult>(name)));
    const count = group.length;
    group = [];
    return {
      results: results.filter((r): r is BatchResult => r !== undefined && r.planVersion === input.planVersion),
      names: count,
    };
  };
  for await (const name of names()) {
    group.push(name);
    if (group.length >= BATCHES_PER_READ) yield await read();
  }
  if (group.length > 0) yield await read();
}

/**
 * Joins the sorted change records with the sorted outcomes: one ItemChange per (folder, id). Of several listings
 * of an item the last counts (a delta round may list an item twice); a listing wins over a removal, as it did
 * when the change list was a map.
 */
export async function* joinedChanges(
  changes: AsyncIterable<ItemChangeRecord>,
  outcomes: AsyncIterable<PlacedOutcome>,
): AsyncGenerator<ItemChange> {
  type Tagged = { change: ItemChangeRecord } | { outcome: PlacedOutcome };
  const keyOfTagged = (tagged: Tagged) => ('change' in tagged ? changeKey(tagged.change) : outcomeKey(tagged.outcome));
  const tag = async function* <T>(source: AsyncIterable<T>, wrap: (record: T) => Tagged): AsyncGenerator<Tagged> {
    for await (const record of source) yield wrap(record);
  };
  const merged = mergeSorted(
    [tag(changes, (change) => ({ change })), tag(outcomes, (outcome) => ({ outcome }))],
    keyOfTagged,
  );
  for await (const { key, records } of groupByKey(merged, keyOfTagged)) {
    const change: ItemChange = { key, folderId: '', id: '', removed: false };
    for (const tagged of records) {
      if ('outcome' in tagged) {
        const { folderId, ...outcome } = tagged.outcome;
        Object.assign(change, { folderId, id: outcome.id, outcome });
      } else if (tagged.change.kind === 'upsert') {
        const { item, known } = tagged.change;
        Object.assign(change, { folderId: item.folderId, id: item.id });
        change.upsert = { meta: item, ...(known ? { known } : {}) };
      } else {
        Object.assign(change, { folderId: tagged.change.folderId, id: tagged.change.id });
        change.removed = true;
      }
    }
    // An outcome with no listing is an item of a batch this change list no longer names: nothing to commit.
    if (change.upsert || change.removed) yield change;
  }
}
