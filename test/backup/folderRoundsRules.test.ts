import { describe, expect, it } from 'vitest';
import type { Baseline } from '../../shared/backup/baseline.js';
import { emptyTally, ENUMERATED_REASON, readRounds, type SliceBudget } from '../../shared/backup/folderRounds.js';
import type { OpenRound } from '../../shared/backup/openRound.js';
import type { RoundRecord } from '../../shared/backup/planMerge.js';
import {
  DeltaLinkRejectedError,
  DeltaQuotaExceededError,
  MailboxAccessDeniedError,
  type DeltaPage,
  type MailboxClient,
  type MailboxItem,
} from '../../shared/graph/index.js';
import { ITEM_META_PROPERTIES } from '../../shared/mailbox/index.js';
import { SEARCH_KEY_PROPERTY } from '../../shared/mailbox/items.js';
import type { ExternalSorter } from '../../shared/vault/externalSort.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';

/**
 * Each folder's round, rule by rule, on a mailbox faked in memory (quick enough for mutation testing): a folder the
 * last snapshot had resumes from its stored delta link, any other is read from scratch (a full round); a rejected
 * link means a full round, a delta refused for quota the plain listing; a folder that cannot be read is noted and
 * keeps its link; items delta gave without a search key are completed; a slice stops at its budget.
 */

const MAILBOX = 'mbx';
const TAKEN_AT = new Date('2026-11-22T02:00:00Z');

/** A listed item; `key` gives it a search key (delta often gives none). */
const item = (id: string, key?: string): MailboxItem => ({
  id,
  changeKey: `ck-${id}`,
  ...(key ? { singleValueExtendedProperties: [{ id: SEARCH_KEY_PROPERTY, value: key }] } : {}),
});
const gone = (id: string) => ({ id, removed: true as const, reason: 'deleted' });
const page = (ids: string[], removed: string[] = [], deltaLink?: string): DeltaPage<MailboxItem> => ({
  changed: ids.map((id) => item(id, `sk-${id}`)),
  removed: removed.map(gone),
  ...(deltaLink ? { deltaLink } : {}),
});

/** A folder of the fake mailbox: its rounds by the link they start from ('' from scratch), and its listing. */
interface FakeFolder {
  rounds?: Record<string, { pages: Array<DeltaPage<MailboxItem>>; error?: Error }>;
  listing?: { items: MailboxItem[]; error?: Error };
  /** Items by id for GETs (those a listing did not give). */
  byId?: Record<string, MailboxItem>;
  /** Milliseconds a round takes before its first page. */
  slow?: number;
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A mailbox of these folders; `calls` names each request, `finished` each round that ran to its end, `listed` counts
 * the items its plain listings gave so far. A listing's pages (`listItemPages`) are of `pageSize` items, each naming
 * the next as `{folderId}-page-{n}`.
 */
function mailbox(folders: Record<string, FakeFolder>, pageSize = 1000) {
  const calls: string[] = [];
  const finished: string[] = [];
  const listed = { items: 0 };
  const graph = {
    async *listItemChanges(
      mailboxId: string,
      folderId: string,
      options: { deltaLink?: string; extendedProperties?: readonly string[] },
    ) {
      expect(mailboxId).toBe(MAILBOX);
      expect(options.extendedProperties).toEqual(ITEM_META_PROPERTIES);
      calls.push(`delta ${folderId} ${options.deltaLink ?? 'from scratch'}`);
      const folder = folders[folderId]!;
      if (folder.slow) await tick(folder.slow);
      const round = folder.rounds?.[options.deltaLink ?? ''];
      if (!round) throw new Error(`no round of ${folderId} from ${options.deltaLink}`);
      yield* round.pages;
      if (round.error) throw round.error;
      finished.push(folderId);
    },
    async *listItems(
      mailboxId: string,
      folderId: string,
      options: { filter?: string; extendedProperties?: readonly string[] },
    ) {
      expect(mailboxId).toBe(MAILBOX);
      expect(options.extendedProperties).toEqual(ITEM_META_PROPERTIES);
      calls.push(`list ${folderId}${options.filter ? ` where ${options.filter}` : ''}`);
      const listing = folders[folderId]!.listing ?? { items: [] };
      for (const listedItem of listing.items) {
        listed.items++;
        yield listedItem;
      }
      if (listing.error) throw listing.error;
    },
    async *listItemPages(
      mailboxId: string,
      folderId: string,
      options: { filter?: string; extendedProperties?: readonly string[]; from?: string },
    ) {
      expect(mailboxId).toBe(MAILBOX);
      expect(options.extendedProperties).toEqual(ITEM_META_PROPERTIES);
      const where = options.filter ? ` where ${options.filter}` : '';
      calls.push(`list ${folderId}${where} from ${options.from ?? 'first'}`);
      const listing = folders[folderId]!.listing ?? { items: [] };
      const first = options.from ? Number(options.from.split('-page-')[1]) : 0;
      for (let n = first; n * pageSize < listing.items.length || n === first; n++) {
        const items = listing.items.slice(n * pageSize, (n + 1) * pageSize);
        const more = (n + 1) * pageSize < listing.items.length;
        yield { items, ...(more ? { nextLink: `${folderId}-page-${n + 1}` } : {}) };
      }
      if (listing.error) throw listing.error;
    },
    async getItems(mailboxId: string, refs: Array<{ id: string; folderId: string }>) {
      expect(mailboxId).toBe(MAILBOX);
      calls.push(`get ${refs.map((r) => `${r.folderId}/${r.id}`).join(',')}`);
      const items = new Map<string, MailboxItem>();
      for (const { id, folderId } of refs) {
        const found = folders[folderId]!.byId?.[id];
        if (found) items.set(id, found);
      }
      return { items, missing: [] };
    },
  } as unknown as MailboxClient;
  return { graph, calls, finished, listed };
}

/** The last snapshot: the folders it had, the links its run stored. */
function baseline(folders: string[], links: Record<string, string> | undefined, takenAt?: Date): Baseline {
  return {
    state: links ? { itemDeltaLinks: links, updatedAt: '2026-11-22T02:30:00Z' } : undefined,
    folders: new Map(folders.map((id) => [id, { kind: 'folder', id } as never])),
    counts: new Map(),
    itemsById: undefined as never,
    ...(takenAt ? { takenAt } : {}),
  };
}

/**
 * A sorter that keeps what it is given, in order; `failAt` makes the nth add fail (a write refused); `onAdd` is told
 * of each record handed over.
 */
function sorter(failAt?: number, onAdd?: (record: RoundRecord) => void) {
  const records: RoundRecord[] = [];
  const rounds = {
    async add(record: RoundRecord) {
      if (records.length + 1 === failAt) throw new Error('the sorter could not write its run');
      onAdd?.(record);
      records.push(record);
    },
  } as unknown as ExternalSorter<RoundRecord>;
  return { rounds, records };
}

/**
 * A vault in memory, for the sorted runs a round spills beyond `recordsInMemory` records; `onWrite` is told of each
 * run written, `failReads` makes every read fail.
 */
function memoryVault(options: { onWrite?: (name: string) => void; failReads?: Error } = {}) {
  const blobs = new Map<string, unknown[]>();
  const written: string[] = [];
  const vault = {
    async writeNdjsonGz(name: string, records: unknown[]) {
      written.push(name);
      blobs.set(name, [...records]);
      options.onWrite?.(name);
    },
    async *readNdjsonGz(name: string) {
      if (options.failReads) throw options.failReads;
      yield* structuredClone(blobs.get(name) ?? []);
    },
    async deleteIfExists(name: string) {
      blobs.delete(name);
    },
  } as unknown as VaultStore;
  return { vault, blobs, written };
}

const WHOLE: SliceBudget = { items: 1000, folders: 1000 };

/**
 * One slice's reading of rounds. `countOf` gives folders' item counts (the folder tree's; 0 without), `open` the
 * round the slice before left open, `memory` a vault shared with other slices (its blobs are the test's to check),
 * `slice` the slice's number, which its scratch is named by (as planSlice names it).
 */
async function read(
  graph: MailboxClient,
  last: Baseline,
  folderIds: string[],
  slice: {
    slice?: number;
    from?: number;
    budget?: SliceBudget;
    failAt?: number;
    recordsInMemory?: number;
    countOf?: Record<string, number>;
    open?: OpenRound;
    memory?: ReturnType<typeof memoryVault>;
    onAdd?: (record: RoundRecord) => void;
  } = {},
) {
  const tally = emptyTally(false);
  const { rounds, records } = sorter(slice.failAt, slice.onAdd);
  const { vault, blobs, written } = slice.memory ?? memoryVault();
  const { next, open } = await readRounds(
    graph,
    MAILBOX,
    last,
    folderIds,
    {
      from: slice.from ?? 0,
      budget: slice.budget ?? WHOLE,
      ...(slice.open ? { open: slice.open } : {}),
      countOf: (folderId) => slice.countOf?.[folderId] ?? 0,
    },
    tally,
    rounds,
    (part) => ({ vault, prefix: `scratch/${slice.slice ?? 0}/${part}/`, recordsInMemory: slice.recordsInMemory ?? 2 }),
  );
  // Whatever a round spilled is deleted once it is handed over, or planning stops.
  if (!slice.memory) expect([...blobs.keys()]).toEqual([]);
  const ids = records.map((r) => (r.kind === 'upsert' ? `+${r.item.folderId}/${r.item.id}` : `-${r.folderId}/${r.id}`));
  return { tally, records, ids, next, open, spilled: written };
}

describe("a folder's round", () => {
  it('resumes from the stored link a folder of the last snapshot has, and reads any other folder from scratch', async () => {
    const { graph, calls } = mailbox({
      inbox: { rounds: { 'link-inbox': { pages: [page(['a']), page(['b'], ['gone'], 'next-inbox')] } } },
      // A folder new since the last snapshot: a link stored for it (an earlier run's) is not used.
      projects: { rounds: { '': { pages: [page(['c'], [], 'next-projects')] } } },
    });
    const last = baseline(['inbox'], { inbox: 'link-inbox', projects: 'stale-link' });
    const { tally, ids, next, records } = await read(graph, last, ['inbox', 'projects']);

    expect(calls).toEqual(['delta inbox link-inbox', 'delta projects from scratch']);
    expect(ids).toEqual(['+inbox/a', '+inbox/b', '-inbox/gone', '+projects/c']);
    expect(records[2]).toEqual({ kind: 'remove', id: 'gone', folderId: 'inbox' });
    expect(next).toBe(2);
    expect(tally.rounds).toEqual([
      ['inbox', false],
      ['projects', true],
    ]);
    expect(tally.nextLinks).toEqual({ inbox: 'next-inbox', projects: 'next-projects' });
    expect(tally.notes).toEqual([{ kind: 'resync', folderId: 'projects' }]);
    expect(tally).toMatchObject({ anyFull: true, failedFolders: 0, enumeratedFolders: [] });
  });

  it("keeps the last link a round's pages give", async () => {
    const { graph } = mailbox({
      inbox: { rounds: { 'link-1': { pages: [page(['a'], [], 'early'), page(['b']), page([], [], 'last')] } } },
    });
    const { tally } = await read(graph, baseline(['inbox'], { inbox: 'link-1' }), ['inbox']);
    expect(tally.nextLinks).toEqual({ inbox: 'last' });
  });

  it('reads a folder from scratch when the last snapshot had it but no links were stored', async () => {
    const { graph, calls } = mailbox({ inbox: { rounds: { '': { pages: [page(['a'], [], 'next')] } } } });
    const { tally } = await read(graph, baseline(['inbox'], undefined), ['inbox']);
    expect(calls).toEqual(['delta inbox from scratch']);
    expect(tally.rounds).toEqual([['inbox', true]]);
    expect(tally.anyFull).toBe(true);
  });

  it('reads in full a folder whose stored link Graph rejects, and keeps nothing of the rejected round', async () => {
    const { graph, calls } = mailbox({
      inbox: {
        rounds: {
          'link-1': { pages: [page(['partial'])], error: new DeltaLinkRejectedError(410, 'SyncStateNotFound') },
          '': { pages: [page(['a', 'b'], [], 'fresh')] },
        },
      },
    });
    const { tally, ids } = await read(graph, baseline(['inbox'], { inbox: 'link-1' }), ['inbox']);
    expect(calls).toEqual(['delta inbox link-1', 'delta inbox from scratch']);
    expect(ids).toEqual(['+inbox/a', '+inbox/b']);
    expect(tally.rounds).toEqual([['inbox', true]]);
    expect(tally.notes).toEqual([{ kind: 'resync', folderId: 'inbox' }]);
    expect(tally.nextLinks).toEqual({ inbox: 'fresh' });
    expect(tally.anyFull).toBe(true);
  });

  it('lists a folder whose delta Graph refuses for quota, in full and with no link for the next run', async () => {
    const quota = () => new DeltaQuotaExceededError('item delta', 403);
    const { graph, calls } = mailbox({
      inbox: {
        rounds: { 'link-1': { pages: [page(['partial'])], error: quota() } },
        listing: { items: [item('a', 'sk-a'), item('b', 'sk-b')] },
      },
      // Rejected link, then quota on the full round: listed too.
      archive: {
        rounds: {
          'link-2': { pages: [], error: new DeltaLinkRejectedError(410, 'SyncStateNotFound') },
          '': { pages: [page(['x'])], error: quota() },
        },
        listing: { items: [item('y', 'sk-y')] },
      },
    });
    const last = baseline(['inbox', 'archive'], { inbox: 'link-1', archive: 'link-2' });
    const { tally, ids } = await read(graph, last, ['inbox', 'archive']);
    // Folders are read side by side: each one's requests in order.
    expect(calls.filter((c) => c.includes(' inbox'))).toEqual(['delta inbox link-1', 'list inbox']);
    expect(calls.filter((c) => c.includes(' archive'))).toEqual([
      'delta archive link-2',
      'delta archive from scratch',
      'list archive',
    ]);
    expect(ids).toEqual(['+inbox/a', '+inbox/b', '+archive/y']);
    expect(tally.enumeratedFolders).toEqual(['inbox', 'archive']);
    expect(tally.rounds).toEqual([
      ['inbox', true],
      ['archive', true],
    ]);
    expect(tally.nextLinks).toEqual({});
    expect(tally.notes).toEqual([
      { kind: 'folderEnumerated', folderId: 'inbox', reason: ENUMERATED_REASON },
      { kind: 'resync', folderId: 'inbox' },
      { kind: 'folderEnumerated', folderId: 'archive', reason: ENUMERATED_REASON },
      { kind: 'resync', folderId: 'archive' },
    ]);
  });

  it("hands a folder's plain listing over a page of 1,000 items at a time, each spilled before the next is listed", async () => {
    const items = Array.from({ length: 2500 }, (_, i) => item(`i${String(i).padStart(4, '0')}`, `sk-${i}`));
    const { graph, listed } = mailbox({
      inbox: {
        rounds: { '': { pages: [], error: new DeltaQuotaExceededError('item delta', 403) } },
        listing: { items },
      },
    });
    // Items listed so far, at each run the round's spill writes (500 records a run).
    const listedAtWrites: number[] = [];
    const memory = memoryVault({ onWrite: () => listedAtWrites.push(listed.items) });
    const { records, tally } = await read(graph, baseline([], undefined), ['inbox'], {
      memory,
      recordsInMemory: 500,
    });
    expect(listedAtWrites).toEqual([1000, 1000, 2000, 2000, 2500]);
    expect(records.map((r) => r.kind === 'upsert' && r.item.id)).toEqual(items.map((listedItem) => listedItem.id));
    expect(tally.enumeratedFolders).toEqual(['inbox']);
    expect([...memory.blobs.keys()]).toEqual([]);
  });

  it('notes a folder that cannot be read, keeps its stored link, and reads the others', async () => {
    const { graph, calls } = mailbox({
      inbox: { rounds: { 'link-1': { pages: [page(['a'])], error: new Error('socket hang up') } } },
      fresh: { rounds: { '': { pages: [], error: new Error('timed out') } } },
      // A rejected link whose full round fails too: the stored link is kept for the next run to try.
      sent: {
        rounds: {
          'link-3': { pages: [], error: new DeltaLinkRejectedError(410, 'SyncStateNotFound') },
          '': { pages: [], error: new Error('503 after retries') },
        },
      },
      drafts: { rounds: { 'link-4': { pages: [page(['d'], [], 'next-4')] } } },
      // A link rejected on a round from scratch is no reason for another: the folder fails.
      notes: { rounds: { '': { pages: [], error: new DeltaLinkRejectedError(400, 'InvalidSyncState') } } },
    });
    const last = baseline(['inbox', 'sent', 'drafts'], { inbox: 'link-1', sent: 'link-3', drafts: 'link-4' });
    const { tally, ids } = await read(graph, last, ['inbox', 'fresh', 'sent', 'drafts', 'notes']);
    expect(ids).toEqual(['+drafts/d']);
    expect(calls.filter((c) => c.includes(' notes '))).toEqual(['delta notes from scratch']);
    expect(tally.failedFolders).toBe(4);
    expect(tally.nextLinks).toEqual({ inbox: 'link-1', sent: 'link-3', drafts: 'next-4' });
    expect(tally.rounds).toEqual([['drafts', false]]);
    expect(tally.anyFull).toBe(false);
    expect(tally.notes).toEqual([
      { kind: 'folderFailed', folderId: 'inbox', reason: 'socket hang up' },
      { kind: 'folderFailed', folderId: 'fresh', reason: 'timed out' },
      { kind: 'folderFailed', folderId: 'sent', reason: '503 after retries' },
      {
        kind: 'folderFailed',
        folderId: 'notes',
        reason: expect.stringContaining('Graph rejected the stored delta link (400 InvalidSyncState)'),
      },
    ]);
  });
});

describe("the search keys of a round's items", () => {
  const bare = (ids: string[], link?: string): DeltaPage<MailboxItem> => ({
    changed: ids.map((id) => item(id)),
    removed: [],
    ...(link ? { deltaLink: link } : {}),
  });

  it('spills a round beyond its budget by id, and a round restarted mid-way keeps nothing of the rejected one', async () => {
    const stale = ['s1', 's2', 's3', 's4', 's5'];
    const fresh = ['f5', 'f4', 'f3', 'f2', 'f1', 'f0'];
    const { graph, calls } = mailbox({
      inbox: {
        rounds: {
          'link-1': {
            pages: [bare(stale.slice(0, 3)), bare(stale.slice(3))],
            error: new DeltaLinkRejectedError(410, 'SyncStateNotFound'),
          },
          '': { pages: [bare(fresh.slice(0, 4)), bare(fresh.slice(4), 'fresh')] },
        },
        // The listing holds the stale items too (still in the folder): only the full round's are planned.
        listing: { items: [...fresh, ...stale].reverse().map((id) => item(id, `sk-${id}`)) },
      },
    });
    const { tally, records, spilled } = await read(graph, baseline(['inbox'], { inbox: 'link-1' }), ['inbox'], {
      recordsInMemory: 2,
    });
    expect(calls).toEqual(['delta inbox link-1', 'delta inbox from scratch', 'list inbox']);
    expect(records).toEqual(
      [...fresh].sort().map((id) => ({ kind: 'upsert', item: expect.objectContaining({ id, searchKey: `sk-${id}` }) })),
    );
    // Both attempts, the listing and the completed records went through the vault; none of it is left (read()).
    for (const part of ['/first/round/', '/full/round/', '/full/listing/', '/full/completed/'])
      expect(spilled.some((name) => name.includes(part))).toBe(true);
    expect(tally).toMatchObject({ propertiesReadSeparately: 6, itemsWithoutSearchKey: 0, rounds: [['inbox', true]] });
  });

  it("completes a full round's from the folder's listing, and notes the items still without one", async () => {
    const { graph, calls } = mailbox({
      inbox: {
        rounds: { '': { pages: [{ ...bare(['a', 'b', 'c'], 'n') }] } },
        listing: { items: [item('a', 'sk-a'), item('b')] },
      },
    });
    const { tally, records } = await read(graph, baseline([], undefined), ['inbox']);
    expect(calls).toEqual(['delta inbox from scratch', 'list inbox', 'get inbox/b,inbox/c']);
    expect(records.map((r) => r.kind === 'upsert' && r.item.searchKey)).toEqual(['sk-a', undefined, undefined]);
    expect(tally.propertiesReadSeparately).toBe(3);
    expect(tally.itemsWithoutSearchKey).toBe(2);
    expect(tally.notes).toEqual([
      { kind: 'metadataGap', folderId: 'inbox', items: 2, reason: 'Graph gave no search key for them' },
      { kind: 'resync', folderId: 'inbox' },
    ]);
  });

  it("completes a night's round from what changed since the last snapshot, or by GETs without one", async () => {
    const folders = {
      inbox: {
        rounds: { 'link-1': { pages: [bare(['a'], 'n')] } },
        listing: { items: [item('a', 'sk-a')] },
        byId: { a: item('a', 'sk-a') },
      },
    };
    const withTime = mailbox(folders);
    const since = await read(withTime.graph, baseline(['inbox'], { inbox: 'link-1' }, TAKEN_AT), ['inbox']);
    // Ten minutes before the last snapshot's run started: the clocks of Exchange and of the app differ a little.
    expect(withTime.calls).toEqual([
      'delta inbox link-1',
      'list inbox where lastModifiedDateTime ge 2026-11-22T01:50:00Z',
    ]);
    expect(since.tally).toMatchObject({ propertiesReadSeparately: 1, itemsWithoutSearchKey: 0, notes: [] });

    const withoutTime = mailbox(folders);
    const { tally } = await read(withoutTime.graph, baseline(['inbox'], { inbox: 'link-1' }), ['inbox']);
    expect(withoutTime.calls).toEqual(['delta inbox link-1', 'get inbox/a']);
    expect(tally).toMatchObject({ propertiesReadSeparately: 1, itemsWithoutSearchKey: 0 });
  });

  it('keeps a round whose keys could not be read, noting its upserts without one and why', async () => {
    const { graph } = mailbox({
      inbox: {
        rounds: { '': { pages: [{ ...bare(['a', 'b'], 'n'), removed: [gone('gone')] }, page(['c'])] } },
        listing: { items: [], error: new Error('listing broke') },
      },
    });
    const { tally, ids } = await read(graph, baseline([], undefined), ['inbox']);
    // A folder's records come in id order (the mailbox's sort by id takes them so anyway).
    expect(ids).toEqual(['+inbox/a', '+inbox/b', '+inbox/c', '-inbox/gone']);
    expect(tally.itemsWithoutSearchKey).toBe(2);
    expect(tally.propertiesReadSeparately).toBe(0);
    expect(tally.nextLinks).toEqual({ inbox: 'n' });
    expect(tally.notes[0]).toEqual({
      kind: 'metadataGap',
      folderId: 'inbox',
      items: 2,
      reason: 'their search keys could not be read: listing broke',
    });
  });

  it('ends the plan when the mailbox refuses access while completing them', async () => {
    const denied = new MailboxAccessDeniedError(MAILBOX, {
      status: 403,
      code: 'ErrorAccessDenied',
      message: 'Access is denied.',
      operation: 'listItems',
    });
    const { graph } = mailbox({
      inbox: { rounds: { '': { pages: [bare(['a', 'b', 'c'], 'n')] } }, listing: { items: [], error: denied } },
    });
    const memory = memoryVault();
    await expect(read(graph, baseline([], undefined), ['inbox'], { memory, recordsInMemory: 2 })).rejects.toBe(denied);
    // The round had spilled to the vault: its runs are deleted all the same.
    expect(memory.written.length).toBeGreaterThan(0);
    expect([...memory.blobs.keys()]).toEqual([]);
  });

  it('fails a folder whose spilled round the vault cannot read back, deleting its runs, and reads the others', async () => {
    const { graph } = mailbox({
      inbox: { rounds: { '': { pages: [bare(['a', 'b', 'c'], 'n')] } }, listing: { items: [] } },
      sent: { rounds: { '': { pages: [page(['s'], [], 'next-sent')] } } },
    });
    const memory = memoryVault({ failReads: new Error('the vault refused the read') });
    const { tally, ids } = await read(graph, baseline([], undefined), ['inbox', 'sent'], {
      memory,
      recordsInMemory: 2,
    });
    expect(ids).toEqual(['+sent/s']);
    expect(tally.failedFolders).toBe(1);
    expect(tally.notes).toEqual([
      { kind: 'folderFailed', folderId: 'inbox', reason: 'the vault refused the read' },
      { kind: 'resync', folderId: 'sent' },
    ]);
    expect(memory.written.length).toBeGreaterThan(0);
    expect([...memory.blobs.keys()]).toEqual([]);
  });
});

describe("a slice's budget", () => {
  /** Folders f0..f{n-1}, each with `items` items in a round from scratch. */
  const folders = (n: number, items: number, slow = 0) =>
    Object.fromEntries(
      Array.from({ length: n }, (_, f) => [
        `f${f}`,
        {
          slow: slow * f,
          rounds: {
            '': {
              pages: [
                page(
                  Array.from({ length: items }, (_, i) => `i${i}`),
                  [],
                  `next-f${f}`,
                ),
              ],
            },
          },
        },
      ]),
    );
  const ids = (n: number) => Array.from({ length: n }, (_, f) => `f${f}`);

  it('starts at its first folder and reads no folder past its last, however far it reads ahead', async () => {
    const { graph, calls } = mailbox(folders(8, 1));
    const { next, tally } = await read(graph, baseline([], undefined), ids(8), {
      from: 2,
      budget: { items: 100, folders: 3 },
    });
    expect(next).toBe(5);
    expect(calls.sort()).toEqual(['delta f2 from scratch', 'delta f3 from scratch', 'delta f4 from scratch']);
    expect(tally.rounds.map(([f]) => f)).toEqual(['f2', 'f3', 'f4']);
  });

  it('reads each folder once, and stops after the folder whose items spend the item budget', async () => {
    const { graph, calls } = mailbox(folders(6, 2));
    const {
      next,
      ids: read3,
      tally,
    } = await read(graph, baseline([], undefined), ids(6), {
      budget: { items: 3, folders: 100 },
    });
    expect(next).toBe(2);
    expect(read3).toEqual(['+f0/i0', '+f0/i1', '+f1/i0', '+f1/i1']);
    expect(Object.keys(tally.nextLinks)).toEqual(['f0', 'f1']);
    // Read ahead, not handed over: the next slice reads them again.
    for (const f of ids(5)) expect(calls.filter((c) => c === `delta ${f} from scratch`)).toHaveLength(1);
    expect(calls).not.toContain('delta f5 from scratch');
  });

  it('reads up to its budget exactly: a folder that brings the items to it ends the slice', async () => {
    const { graph } = mailbox(folders(3, 2));
    expect((await read(graph, baseline([], undefined), ids(3), { budget: { items: 4, folders: 100 } })).next).toBe(2);
    const again = mailbox(folders(3, 2));
    expect(
      (await read(again.graph, baseline([], undefined), ids(3), { budget: { items: 5, folders: 100 } })).next,
    ).toBe(3);
  });

  it('returns where it was when the budget is spent at once, and lets the folders read ahead finish when it fails', async () => {
    const none = mailbox(folders(2, 1));
    expect((await read(none.graph, baseline([], undefined), ids(2), { budget: { items: 0, folders: 5 } })).next).toBe(
      0,
    );
    expect(none.calls).toEqual([]);

    const { graph, finished } = mailbox(folders(4, 1, 20));
    await expect(read(graph, baseline([], undefined), ids(4), { failAt: 1 })).rejects.toThrow('could not write');
    expect(finished.sort()).toEqual(['f0', 'f1', 'f2', 'f3']);
  });
});

describe('reading ahead', () => {
  /** Folders f0..f{n-1}, each with these items in a round from scratch, or from `link-f{n}` where `links`. */
  const folders = (n: number, items: string[], links = false) =>
    Object.fromEntries(
      Array.from({ length: n }, (_, f) => [
        `f${f}`,
        { rounds: { [links ? `link-f${f}` : '']: { pages: [page(items, [], `next-f${f}`)] } } },
      ]),
    );
  const ids = (n: number) => Array.from({ length: n }, (_, f) => `f${f}`);
  const counts = (n: number, each: number) => Object.fromEntries(ids(n).map((f) => [f, each]));

  it('reads no folder ahead that the slice will not hand over, a folder without a link counted by its items', async () => {
    const { graph, calls } = mailbox(folders(6, ['a', 'b']));
    // Two folders of two items spend a budget of four exactly: the third is the next slice's.
    const { next, ids: handedOver } = await read(graph, baseline([], undefined), ids(6), {
      budget: { items: 4, folders: 100 },
      countOf: counts(6, 2),
    });
    expect(next).toBe(2);
    expect(handedOver).toEqual(['+f0/a', '+f0/b', '+f1/a', '+f1/b']);
    expect(calls.sort()).toEqual(['delta f0 from scratch', 'delta f1 from scratch']);
  });

  it('reads folders with a stored link ahead whatever their size, their changes taken as few', async () => {
    const { graph, calls } = mailbox(folders(6, ['a'], true));
    const links = Object.fromEntries(ids(6).map((f) => [f, `link-${f}`]));
    const { next } = await read(graph, baseline(ids(6), links), ids(6), {
      budget: { items: 4, folders: 100 },
      countOf: counts(6, 2),
      onAdd: (record) => calls.push(`hand over ${record.kind === 'upsert' ? record.item.folderId : ''}`),
    });
    expect(next).toBe(4);
    // Four rounds at once, all asked for before the first folder is handed over.
    expect(calls.slice(0, 5)).toEqual([
      'delta f0 link-f0',
      'delta f1 link-f1',
      'delta f2 link-f2',
      'delta f3 link-f3',
      'hand over f0',
    ]);
  });
});

describe('a folder larger than a slice', () => {
  /** A round of pages of these items, each page naming the next as `{folder}-{n}`; the last gives `next-{folder}`. */
  const paged = (folderId: string, pages: string[][], keyed = true) => {
    const rounds: Record<string, { pages: Array<DeltaPage<MailboxItem>> }> = {};
    const pageOf = (n: number): DeltaPage<MailboxItem> => ({
      changed: pages[n]!.map((id) => item(id, keyed ? `sk-${id}` : undefined)),
      removed: [],
      ...(n + 1 < pages.length ? { nextLink: `${folderId}-${n + 1}` } : { deltaLink: `next-${folderId}` }),
    });
    for (let n = 0; n < pages.length; n++)
      rounds[n === 0 ? '' : `${folderId}-${n}`] = { pages: pages.slice(n).map((_, k) => pageOf(n + k)) };
    return rounds;
  };

  it('is read alone, page by page, its round left open for the next slice, which reads on from there', async () => {
    const { graph, calls } = mailbox({
      small: { rounds: { '': { pages: [page(['s1', 's2', 's3', 's4'], [], 'next-small')] } } },
      big: { rounds: paged('big', [['a', 'b'], ['c', 'd'], ['e']]) },
      big2: { rounds: paged('big2', [['x']]) },
    });
    const folderIds = ['small', 'big', 'big2'];
    const countOf = { small: 4, big: 10, big2: 10 };
    const budget = { items: 6, folders: 10 };
    const memory = memoryVault();

    // The small folder spends four of six: the large one reads pages until the two left are spent.
    const first = await read(graph, baseline([], undefined), folderIds, { budget, countOf, memory });
    expect(first.next).toBe(1);
    expect(first.open).toMatchObject({ folderId: 'big', attempt: 'first', phase: 'pages', next: 'big-1' });
    expect(first.ids).toEqual(['+small/s1', '+small/s2', '+small/s3', '+small/s4']);
    // Neither large folder is read ahead.
    expect(calls.splice(0).sort()).toEqual(['delta big from scratch', 'delta small from scratch']);
    // What the open round read so far is left in the vault, the runs its checkpoint names.
    expect([...memory.blobs.keys()]).toEqual(first.open!.roundRuns);

    // The next slice reads on in it, hands it over whole, and starts the next large folder's round afresh.
    const second = await read(graph, baseline([], undefined), folderIds, {
      slice: 1,
      from: 1,
      open: first.open!,
      budget,
      countOf,
      memory,
    });
    expect(calls).toEqual(['delta big big-1', 'delta big2 from scratch']);
    expect(second.ids).toEqual(['+big/a', '+big/b', '+big/c', '+big/d', '+big/e', '+big2/x']);
    expect(second.next).toBe(3);
    expect(second.open).toBeUndefined();
    expect(second.tally.rounds).toEqual([
      ['big', true],
      ['big2', true],
    ]);
    expect(second.tally.nextLinks).toEqual({ big: 'next-big', big2: 'next-big2' });
  });

  it('is one of more items than the budget: a folder of exactly the budget is read in one go', async () => {
    const { graph, calls } = mailbox({ exact: { rounds: paged('exact', [['a', 'b'], ['c']]) } });
    const { next, open, ids } = await read(graph, baseline([], undefined), ['exact'], {
      budget: { items: 2, folders: 10 },
      countOf: { exact: 2 },
    });
    expect({ next, open }).toEqual({ next: 1, open: undefined });
    expect(ids).toEqual(['+exact/a', '+exact/b', '+exact/c']);
    expect(calls).toEqual(['delta exact from scratch']);
  });

  it("completes a night's round from what changed since the last snapshot", async () => {
    const { graph, calls } = mailbox({
      big: {
        rounds: { 'link-big': { pages: [{ changed: [item('a'), item('b')], removed: [], deltaLink: 'next-big' }] } },
        listing: { items: [item('a', 'sk-a'), item('b', 'sk-b')] },
      },
    });
    const memory = memoryVault();
    const { ids, tally } = await read(graph, baseline(['big'], { big: 'link-big' }, TAKEN_AT), ['big'], {
      budget: { items: 5, folders: 10 },
      countOf: { big: 100 },
      memory,
    });
    expect(calls).toEqual([
      'delta big link-big',
      'list big where lastModifiedDateTime ge 2026-11-22T01:50:00Z from first',
    ]);
    expect(ids).toEqual(['+big/a', '+big/b']);
    expect(tally).toMatchObject({ propertiesReadSeparately: 2, itemsWithoutSearchKey: 0, rounds: [['big', false]] });
  });
});
