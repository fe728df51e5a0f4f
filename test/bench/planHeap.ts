/**
 * Heap per item of one mailbox's planning, measured the way issue #16's table was: synthetic 152-character ids
 * in 20 folders, the heap sampled while planning runs, above the heap after a forced GC before it. Two cases: a
 * first backup (every item listed by delta, none stored) and a night after it (the previous snapshot holds every
 * item; delta reports 0.1 % changed).
 *
 *   npm run bench:plan-heap -- [items] [root of the checkout to measure (its dist/ is loaded), default this one]
 *
 * With LIVE_HEAP=1 the sampler forces a GC before each sample (every 250 ms): the peak of what is held, without
 * the garbage the default figure includes.
 *
 * With another checkout's dist (main's, built with `tsc -p tsconfig.bench.json`), the same run measures that code:
 * the "before" figures of docs/performance.md. Graph is a stand-in that makes pages on the fly (no simulator, so
 * only planning's own memory is measured). Needs `node --expose-gc`; starts an Azurite of its own.
 */
import { resolve } from 'node:path';
import { stopAzurite } from './harness.js';
import { heapBenchVault, heapFigures, heapOf, LIVE_HEAP } from './heapMeasure.js';
import { ExtendedProperty, type DeltaPage, type MailboxClient, type MailboxFolder } from '../../shared/graph/index.js';
import type { MailboxItem } from '../../shared/graph/types.js';
import { layout } from '../../shared/vault/layout.js';
import type { DeltaState } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import type { planMailbox as PlanMailbox } from '../../shared/backup/plan.js';
import { FOLDERS, folderIdOf, folderItems, idOf, writeSyntheticSnapshot } from './syntheticSnapshot.js';

const ITEMS = Number(process.argv[2] ?? 100_000);
// Compiled to dist/test/bench: the checkout's root is three levels up.
const CODE_ROOT = resolve(process.argv[3] ?? resolve(import.meta.dirname, '..', '..', '..'));
const PAGE = 100;
/** One item in this many changes on the night. */
const CHANGED_ONE_IN = 1000;
const MAILBOX = 'heap-plan-mailbox';
const TAKEN_AT = '2026-11-01T02:00:00.000Z';
const LONG_AGO = '2026-10-01T00:00:00.000Z';

const changeKeyOf = (n: number, night: boolean) => (night && n % CHANGED_ONE_IN === 0 ? 'CQAAABYAAAE' : 'CQAAABYAAAD');

function listedItem(n: number, night: boolean): MailboxItem {
  return {
    id: idOf(n),
    changeKey: changeKeyOf(n, night),
    size: 2048,
    createdDateTime: LONG_AGO,
    lastModifiedDateTime: LONG_AGO,
    singleValueExtendedProperties: [
      { id: ExtendedProperty.subject, value: `Subject ${n}` },
      { id: ExtendedProperty.searchKey, value: `c2Vhcm${String(n).padStart(12, '0')}` },
    ],
  } as MailboxItem;
}

/** The items of folder f, made on the fly; on the night only the changed ones. */
function* listedItems(f: number, night: boolean): Generator<number> {
  for (const n of folderItems(f, ITEMS)) if (!night || n % CHANGED_ONE_IN === 0) yield n;
}

/** The parts of a MailboxClient planning uses, answering from the synthetic mailbox. */
function syntheticGraph(night: boolean): MailboxClient {
  const folders: MailboxFolder[] = Array.from({ length: FOLDERS }, (_, f) => ({
    id: folderIdOf(f),
    displayName: `Folder ${f}`,
    parentFolderId: 'root',
    childFolderCount: 0,
    totalItemCount: [...listedItems(f, false)].length,
    type: 'IPF.Note',
  }));
  async function* pages(f: number, itemsNight: boolean): AsyncGenerator<DeltaPage<MailboxItem>> {
    let page: MailboxItem[] = [];
    for (const n of listedItems(f, itemsNight)) {
      page.push(listedItem(n, night));
      if (page.length === PAGE) {
        yield { changed: page, removed: [] };
        page = [];
      }
    }
    yield { changed: page, removed: [], deltaLink: `delta-${folderIdOf(f)}` };
  }
  const client = {
    listFolderChanges: async function* () {
      yield { changed: folders, removed: [], deltaLink: 'delta-folders' };
    },
    listFolders: async function* (_mailboxId: string, options: { parentFolderId?: string }) {
      if (!options.parentFolderId) yield* folders;
    },
    getWellKnownFolders: () => Promise.resolve(new Map()),
    listItemChanges: (_mailboxId: string, folderId: string, options: { deltaLink?: string }) =>
      pages(Number(folderId.slice('folder-'.length)), night && options.deltaLink !== undefined),
    listItems: async function* (_mailboxId: string, folderId: string) {
      for await (const page of pages(Number(folderId.slice('folder-'.length)), false)) yield* page.changed;
    },
  };
  return client as unknown as MailboxClient;
}

/** The first backup's snapshot as the commit writes it, and its delta links, for the night to plan against. */
async function writePreviousSnapshot(vault: VaultStore): Promise<void> {
  const record = await writeSyntheticSnapshot(vault, {
    mailboxId: MAILBOX,
    runId: 'heap-plan-first',
    takenAt: TAKEN_AT,
    items: ITEMS,
    changeKeyOf: (n) => changeKeyOf(n, false),
  });
  const folderIds = Array.from({ length: FOLDERS }, (_, f) => folderIdOf(f));
  const state: DeltaState = {
    folderDeltaLink: 'delta-folders',
    itemDeltaLinks: Object.fromEntries(folderIds.map((id) => [id, `delta-${id}`])),
    lastSnapshotId: record.snapshotId,
    updatedAt: TAKEN_AT,
  };
  await vault.writeJson(layout.deltaState(MAILBOX), state);
}

async function main(): Promise<void> {
  const vault = await heapBenchVault();
  // The code measured may be another checkout's build (main's, for the "before" figures): loaded by path.
  const { planMailbox } = (await import(`${CODE_ROOT}/dist/shared/backup/plan.js`)) as {
    planMailbox: typeof PlanMailbox;
  };
  const settings = { maxItemsPerBatch: 20, batchReportedBytes: 24 * 1024 * 1024 };
  const input = { mailboxId: MAILBOX, upn: 'heap@contoso.example' };
  const first = await heapOf(() => planMailbox(syntheticGraph(false), vault, settings, { ...input, runId: 'first' }));
  await writePreviousSnapshot(vault);
  const night = await heapOf(() => planMailbox(syntheticGraph(true), vault, settings, { ...input, runId: 'night' }));
  const figures = (measured: typeof first) => ({
    planned: measured.result.itemsToExport,
    ...heapFigures(measured, ITEMS),
  });
  console.log(
    JSON.stringify({
      code: CODE_ROOT,
      items: ITEMS,
      liveHeap: LIVE_HEAP,
      first: figures(first),
      night: figures(night),
    }),
  );
  await stopAzurite();
}

await main();
