import { GraphRequestError, type MailboxClient } from '../graph/index.js';
import { SEARCH_KEY_PROPERTY, searchKeyOf } from '../mailbox/index.js';
import { ExternalSorter, MAX_RUNS_MERGED_AT_ONCE, mergeRunsDownUnder, readSortedRuns } from '../vault/externalSort.js';
import type { VaultStore } from '../vault/vaultStore.js';

/**
 * How far a restore plan has listed the search keys the target already holds (its checkpoint carries this): the
 * folders to list, the one being listed and the page to read next in it, and the sorted runs of the keys so far.
 */
export interface TargetKeysProgress {
  /** The target's folders when the plan started, in the order they are listed. */
  folderIds: string[];
  folder: number;
  /** The next page of that folder; absent: its first page. */
  nextLink?: string;
  runs: string[];
  keys: number;
}

export interface TargetKeysSort {
  vault: VaultStore;
  /** Where this call's runs go, e.g. `restores/{id}/plan-keys/s000003-`: one prefix per slice. */
  prefix: string;
  recordsInMemory?: number;
}

type KeyRecord = { key: string };
const keyOf = (record: KeyRecord) => record.key;

export const startTargetKeys = (folderIds: string[]): TargetKeysProgress => ({
  folderIds,
  folder: 0,
  runs: [],
  keys: 0,
});

export const targetKeysListed = (progress: TargetKeysProgress): boolean => progress.folder >= progress.folderIds.length;

/**
 * Lists the target's search keys page by page from where `progress` stands until `budget` items were read or
 * every folder was, and sorts them into runs in the vault. A folder whose first page is refused (a search folder,
 * 4xx) holds nothing of its own and is passed over. A page link of an earlier slice that is refused (it expired)
 * makes the folder be read again from its first page to its end in this call, over the budget, so that it cannot
 * happen twice (keys read twice are harmless). Any other refusal fails the call: keys left out would let items
 * the target holds be imported again. Returns the progress after it and the items read.
 */
export async function listTargetKeys(
  graph: MailboxClient,
  mailboxId: string,
  progress: TargetKeysProgress,
  budget: number,
  sort: TargetKeysSort,
): Promise<{ progress: TargetKeysProgress; itemsRead: number }> {
  const { vault, prefix, recordsInMemory } = sort;
  const sorter = new ExternalSorter<KeyRecord>(
    { vault, prefix, ...(recordsInMemory ? { recordsInMemory } : {}) },
    keyOf,
  );
  const next: TargetKeysProgress = { ...progress, runs: [...progress.runs] };
  let itemsRead = 0;
  let readingWhole = false;
  while (!targetKeysListed(next) && (itemsRead < budget || readingWhole)) {
    const resumed = next.nextLink;
    let more: string | undefined;
    let pagesRead = 0;
    try {
      const pages = graph.listItemPages(mailboxId, next.folderIds[next.folder]!, {
        extendedProperties: [SEARCH_KEY_PROPERTY],
        ...(resumed ? { from: resumed } : {}),
      });
      for await (const page of pages) {
        pagesRead++;
        for (const item of page.items) {
          const key = searchKeyOf(item);
          if (key) await sorter.add({ key });
        }
        itemsRead += page.items.length;
        more = page.nextLink;
        if (more && itemsRead >= budget && !readingWhole) break;
      }
    } catch (error) {
      // Throttled or timed out (408, 429) after every retry is not a refusal: the slice is tried again.
      const refused = error instanceof GraphRequestError && error.isPermanent;
      if (!refused || pagesRead > 0) throw error;
      more = undefined;
      if (resumed) {
        delete next.nextLink;
        readingWhole = true;
        continue;
      }
    }
    readingWhole = false;
    if (more) next.nextLink = more;
    else {
      next.folder++;
      delete next.nextLink;
    }
  }
  next.keys += sorter.added;
  next.runs.push(...(await sorter.sealInVault()));
  if (next.runs.length > MAX_RUNS_MERGED_AT_ONCE)
    next.runs = await mergeRunsDownUnder(vault, next.runs, keyOf, `${prefix}merged-`);
  return { progress: next, itemsRead };
}

/** The keys listed, in key order. */
export async function* listedTargetKeys(vault: VaultStore, progress: TargetKeysProgress): AsyncGenerator<string> {
  for await (const record of readSortedRuns(vault, progress.runs, keyOf)) yield record.key;
}
