import { describe, expect, it } from 'vitest';
import type { PreviousItem } from '../../shared/backup/baseline.js';
import { coverageRecords, ExpectedCounts, type CoverageRecord } from '../../shared/backup/coverage.js';
import { itemGroups, resolveGroup, type RoundRecord } from '../../shared/backup/planMerge.js';
import type { MailboxClient, MailboxItem } from '../../shared/graph/index.js';
import { ITEM_META_PROPERTIES } from '../../shared/mailbox/index.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

/**
 * The proof of coverage, rule by rule, on a folder listing faked in memory (the sorts stay in memory, so no vault
 * is touched but in the last test: quick enough for mutation testing): the count the snapshot will hold against
 * Exchange's, and when it falls short, each item no round reported is an arrival (changed after planning started,
 * less two minutes) or missed by delta and backed up from the listing, reusing the stored version when its change
 * key did not move. The expected counts are built as planning builds them, from the rounds merged with the last
 * snapshot.
 */

const MAILBOX = 'mbx';
const planStartedAt = new Date('2026-11-23T02:00:00Z');
/** Two minutes before planning started: changed then or later, an item arrived during the run. */
const ARRIVALS_FROM = '2026-11-23T01:58:00.000Z';
const OLD = '2026-11-01T00:00:00Z';

/** A folder's round: the ids it listed (`id` or `id@changeKey`, else change key `ck-{id}`) and those it removed. */
interface Round {
  full?: boolean;
  upserts?: string[];
  removed?: string[];
}

interface Scenario {
  /** Each folder's totalItemCount as the tree's listing gave it. */
  counts: Record<string, number>;
  rounds: Record<string, Round>;
  /** The last snapshot: item id → folder (its stored version has change key `ck-{id}`). */
  last?: Record<string, string>;
}

/** A mailbox whose folders list these items; records which folders were listed, and fails a listing if told. */
function client(listing: Record<string, MailboxItem[]>, failing: Record<string, Error> = {}) {
  const listed: string[] = [];
  const graph = {
    async *listItems(mailboxId: string, folderId: string, options: { extendedProperties?: readonly string[] }) {
      expect(mailboxId).toBe(MAILBOX);
      expect(options.extendedProperties).toEqual(ITEM_META_PROPERTIES);
      listed.push(folderId);
      yield* listing[folderId] ?? [];
      if (failing[folderId]) throw failing[folderId];
    },
  } as unknown as MailboxClient;
  return { graph, listed };
}

const item = (id: string, changedAt = OLD, changeKey = `ck-${id}`): MailboxItem => ({
  id,
  changeKey,
  lastModifiedDateTime: changedAt,
  createdDateTime: OLD,
});

const byId = <T>(records: T[], keyOf: (record: T) => string): T[] =>
  records
    .map((record, order) => ({ record, order, key: keyOf(record) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.order - b.order))
    .map(({ record }) => record);

function roundRecords(rounds: Record<string, Round>): RoundRecord[] {
  const records: RoundRecord[] = [];
  for (const [folderId, round] of Object.entries(rounds)) {
    for (const listed of round.upserts ?? []) {
      const [id = listed, changeKey = `ck-${id}`] = listed.split('@');
      records.push({ kind: 'upsert', item: { id, folderId, changeKey, type: 'IPM.Note', size: 1 } });
    }
    for (const id of round.removed ?? []) records.push({ kind: 'remove', id, folderId });
  }
  return byId(records, (r) => (r.kind === 'upsert' ? r.item.id : r.id));
}

async function* from<T>(records: T[]): AsyncGenerator<T> {
  yield* records;
}

/** Runs the proof as planning does: expected counts from the rounds merged with the last snapshot first. */
async function records(
  graph: MailboxClient,
  scenario: Scenario,
  sort: { vault: VaultStore; prefix: string; recordsInMemory?: number } = {
    vault: {} as VaultStore,
    prefix: 'unused/',
  },
): Promise<CoverageRecord[]> {
  const rounds = roundRecords(scenario.rounds);
  const previous: PreviousItem[] = byId(
    Object.entries(scenario.last ?? {}).map(([id, folderId]) => ({
      id,
      folderId,
      changeKey: `ck-${id}`,
      blob: `blob-${id}`,
      sha256: `sha-${id}`,
      length: 7,
    })),
    (p) => p.id,
  );
  const expected = new ExpectedCounts();
  for await (const group of itemGroups(from(previous), from(rounds))) {
    const { upsertedIn, removedIn } = resolveGroup(group);
    expected.add(group.previous?.folderId, upsertedIn, removedIn);
  }
  const previousCount = (folderId: string) => previous.filter((p) => p.folderId === folderId).length;
  const out: CoverageRecord[] = [];
  for await (const record of coverageRecords(graph, {
    mailboxId: MAILBOX,
    counts: new Map(Object.entries(scenario.counts)),
    rounds: new Map(Object.entries(scenario.rounds).map(([id, round]) => [id, { full: round.full ?? false }])),
    expected: (folderId, full) => expected.expected(folderId, full, previousCount(folderId)),
    roundsById: () => from(rounds),
    previousById: () => from(previous),
    planStartedAt,
    sort,
  }))
    out.push(record);
  return out;
}

const matched = (folderId: string, exchangeCount: number) => ({
  note: { kind: 'folderCount', folderId, exchangeCount, missedByDelta: 0, arrivedDuringRun: 0 },
});

const counted = (folderId: string, exchangeCount: number, missedByDelta: number, arrivedDuringRun = 0) => ({
  note: { kind: 'folderCount', folderId, exchangeCount, missedByDelta, arrivedDuringRun },
});

/** An item backed up from the listing: its version planned for export, or the stored one reused. */
const missed = (id: string, folderId: string, changeKey = `ck-${id}`) => ({
  item: { record: { kind: 'upsert', item: expect.objectContaining({ id, folderId, changeKey }) }, planned: true },
});
const reused = (id: string, folderId: string) => ({
  item: {
    record: {
      kind: 'upsert',
      item: expect.objectContaining({ id, folderId, changeKey: `ck-${id}` }),
      known: { blob: `blob-${id}`, sha256: `sha-${id}`, length: 7 },
    },
  },
});

describe('the count a folder is compared by', () => {
  it('after a full listing: the items listed and not removed; equal or more is a match, without listing again', async () => {
    const { graph, listed } = client({});
    const rounds = { f: { full: true, upserts: ['a', 'b', 'c'], removed: ['c'] } };
    expect(await records(graph, { counts: { f: 2 }, rounds })).toEqual([matched('f', 2)]);
    expect(await records(graph, { counts: { f: 1 }, rounds })).toEqual([matched('f', 1)]);
    expect(listed).toEqual([]);
    // A removed item does not count: Exchange's 3 is one more than the snapshot will hold.
    await records(graph, { counts: { f: 3 }, rounds });
    expect(listed).toEqual(['f']);
  });

  it('after a full listing, ignores the last snapshot: its items the listing did not give are gone', async () => {
    const { graph, listed } = client({});
    const scenario = { counts: { f: 2 }, rounds: { f: { full: true, upserts: ['a'] } }, last: { old: 'f' } };
    await records(graph, scenario);
    expect(listed).toEqual(['f']);
  });

  it('after a delta round: the last snapshot’s items, less those removed from the folder, plus those new to it', async () => {
    const { graph, listed } = client({});
    const last = { a: 'f', b: 'f', c: 'f', m: 'other' };
    // 3, less b (removed here), less nothing for x (never here), plus m (moved in) and n (new); c changed in place;
    // 'gone' was listed and removed by the same round, so it does not count.
    const rounds = { f: { upserts: ['c@ck-c2', 'm', 'n', 'gone'], removed: ['b', 'x', 'gone'] } };
    expect(await records(graph, { counts: { f: 4 }, rounds, last })).toEqual([matched('f', 4)]);
    expect(listed).toEqual([]);
    // One fewer counted than Exchange has: the folder is listed.
    await records(graph, { counts: { f: 5 }, rounds, last });
    expect(listed).toEqual(['f']);
  });

  it('after a delta round, an item moved out to another folder leaves this one', async () => {
    const { graph, listed } = client({});
    const last = { a: 'f', b: 'f' };
    const rounds = { f: { removed: ['b'] }, g: { upserts: ['b'] } };
    expect(await records(graph, { counts: { f: 1, g: 1 }, rounds, last })).toEqual([matched('f', 1), matched('g', 1)]);
    await records(graph, { counts: { f: 2, g: 1 }, rounds, last });
    expect(listed).toEqual(['f']);
  });

  it('reads the rounds and the last snapshot again only when a folder falls short', async () => {
    const { graph, listed } = client({});
    const reads: string[] = [];
    for await (const record of coverageRecords(graph, {
      mailboxId: MAILBOX,
      counts: new Map([['f', 1]]),
      rounds: new Map([['f', { full: true }]]),
      expected: () => 1,
      roundsById: () => (reads.push('rounds'), from([])),
      previousById: () => (reads.push('previous'), from([])),
      planStartedAt,
      sort: { vault: {} as VaultStore, prefix: 'unused/' },
    }))
      expect(record).toEqual(matched('f', 1));
    expect(reads).toEqual([]);
    expect(listed).toEqual([]);
  });

  it('says a folder the tree gave no count for was not compared, if the snapshot holds any of its items', async () => {
    const { graph, listed } = client({});
    expect(
      await records(graph, { counts: {}, rounds: { root: { full: true, upserts: ['a'] }, empty: { full: true } } }),
    ).toEqual([
      { note: { kind: 'folderNotCompared', folderId: 'root', reason: expect.stringMatching(/no item count/) } },
    ]);
    expect(listed).toEqual([]);
  });
});

describe('a folder that would hold fewer than Exchange counts', () => {
  it('is listed; an item no round reported is missed by delta and backed up, reusing an unchanged stored version', async () => {
    const { graph } = client({
      f: [item('reported'), item('kept'), item('moved-in'), item('stale', OLD, 'ck-new'), item('lost')],
    });
    const out = await records(graph, {
      counts: { f: 9 },
      rounds: { f: { upserts: ['reported'] } },
      last: { kept: 'f', 'moved-in': 'g', stale: 'g' },
    });
    // In id order, as the listing is merged with the rounds and the last snapshot.
    expect(out).toEqual([
      missed('lost', 'f'),
      reused('moved-in', 'f'),
      missed('stale', 'f', 'ck-new'),
      counted('f', 5, 3),
    ]);
  });

  it('counts an item changed from two minutes before planning on as an arrival, not a gap', async () => {
    const { graph } = client({
      f: [
        item('a-just-before', '2026-11-23T01:57:59.999Z'),
        item('b-at-margin', ARRIVALS_FROM),
        item('c-during', '2026-11-23T02:30:00Z'),
        { id: 'd-created-during', createdDateTime: '2026-11-23T02:10:00Z' },
        { id: 'e-no-dates' },
        { id: 'f-bad-date', lastModifiedDateTime: 'not a date' },
      ],
    });
    const out = await records(graph, { counts: { f: 6 }, rounds: { f: {} } });
    expect(out).toEqual([
      missed('a-just-before', 'f'),
      { item: { record: { kind: 'upsert', item: expect.objectContaining({ id: 'e-no-dates' }) }, planned: true } },
      { item: { record: { kind: 'upsert', item: expect.objectContaining({ id: 'f-bad-date' }) }, planned: true } },
      counted('f', 6, 3, 3),
    ]);
  });

  it('after a full listing, an item of the last snapshot in the folder that the round did not list is missed', async () => {
    const { graph } = client({ f: [item('a'), item('b'), item('c')] });
    const out = await records(graph, {
      counts: { f: 3 },
      rounds: { f: { full: true, upserts: ['a'] } },
      last: { b: 'f' },
    });
    expect(out).toEqual([reused('b', 'f'), missed('c', 'f'), counted('f', 3, 2)]);
  });

  it('backs up an item the round reported removed but Exchange still lists, and one kept that it removed', async () => {
    const { graph } = client({ f: [item('upserted-and-removed'), item('kept-but-removed')] });
    const out = await records(graph, {
      counts: { f: 3 },
      rounds: { f: { upserts: ['upserted-and-removed'], removed: ['upserted-and-removed', 'kept-but-removed'] } },
      last: { 'kept-but-removed': 'f' },
    });
    // The round's own listing of the new version is planned already (planMerge): this one is not exported twice.
    const listedByRound = { kind: 'upsert', item: expect.objectContaining({ id: 'upserted-and-removed' }) };
    expect(out).toEqual([reused('kept-but-removed', 'f'), { item: { record: listedByRound } }, counted('f', 2, 2)]);
  });

  it('does not back up again an item its new folder’s round reported, though the round of the folder it left removed it', async () => {
    // m moved from g to f: f's round lists it, g's round removes it. f falls short by 'lost' alone.
    const { graph } = client({ f: [item('lost'), item('m')] });
    const out = await records(graph, {
      counts: { f: 2, g: 0 },
      rounds: { f: { upserts: ['m'] }, g: { removed: ['m'] } },
      last: { m: 'g' },
    });
    expect(out).toEqual([matched('g', 0), missed('lost', 'f'), counted('f', 2, 1)]);
  });

  it('does not plan a second export of a version the rounds already plan from another folder', async () => {
    // x is listed new by g's round; f lists it too (Exchange moved it during the run): one export, from g.
    const { graph } = client({ f: [item('x', OLD, 'ck-moved')] });
    const out = await records(graph, {
      counts: { f: 1, g: 1 },
      rounds: { f: {}, g: { upserts: ['x@ck-moved'] } },
      last: { x: 'g' },
    });
    expect(out).toEqual([
      matched('g', 1),
      { item: { record: { kind: 'upsert', item: expect.objectContaining({ id: 'x', folderId: 'f' }) } } },
      counted('f', 1, 1),
    ]);
    // A round that listed x unchanged plans no export: the one found in f is planned.
    const unchanged = await records(client({ f: [item('x', OLD, 'ck-moved')] }).graph, {
      counts: { f: 1, g: 1 },
      rounds: { f: {}, g: { upserts: ['x'] } },
      last: { x: 'g' },
    });
    expect(unchanged[1]).toEqual(missed('x', 'f', 'ck-moved'));
  });

  it('compares each folder on its own', async () => {
    const { graph, listed } = client({ short: [item('x')], also: [item('y')] });
    const out = await records(graph, {
      counts: { ok: 0, short: 1, also: 1 },
      rounds: { ok: { full: true }, short: { full: true }, also: { full: true } },
    });
    expect(listed).toEqual(['short', 'also']);
    expect(out).toEqual([
      matched('ok', 0),
      missed('x', 'short'),
      missed('y', 'also'),
      counted('short', 1, 1),
      counted('also', 1, 1),
    ]);
  });

  it('ends after a listing that fails: the folders listed before it are counted, then the error is thrown', async () => {
    const failure = new Error('listing refused');
    const { graph, listed } = client({ a: [item('a1')], b: [item('b1')], c: [item('c1')] }, { b: failure });
    const out: CoverageRecord[] = [];
    const scenario = {
      counts: { a: 1, b: 1, c: 1 },
      rounds: { a: { full: true }, b: { full: true }, c: { full: true } },
    };
    await expect(
      (async () => {
        const sort = { vault: {} as VaultStore, prefix: 'unused/' };
        const rounds = new Map(Object.entries(scenario.rounds).map(([id]) => [id, { full: true }]));
        for await (const record of coverageRecords(graph, {
          mailboxId: MAILBOX,
          counts: new Map(Object.entries(scenario.counts)),
          rounds,
          expected: () => 0,
          roundsById: () => from([]),
          previousById: () => from([]),
          planStartedAt,
          sort,
        }))
          out.push(record);
      })(),
    ).rejects.toBe(failure);
    expect(listed).toEqual(['a', 'b']);
    expect(out).toEqual([missed('a1', 'a'), counted('a', 1, 1)]);
  });

  it('sorts a listing larger than its memory budget through the vault, and deletes those runs after', async () => {
    const { vault } = await freshVault('coverage');
    const ids = ['e', 'b', 'd', 'a', 'c'];
    const { graph } = client({ f: ids.map((id) => item(id)) });
    const prefix = 'runs/r1/listing/';
    const out = await records(
      graph,
      { counts: { f: 5 }, rounds: { f: { full: true } }, last: { c: 'f' } },
      {
        vault,
        prefix,
        recordsInMemory: 2,
      },
    );
    expect(out).toEqual([
      missed('a', 'f'),
      missed('b', 'f'),
      reused('c', 'f'),
      missed('d', 'f'),
      missed('e', 'f'),
      counted('f', 5, 5),
    ]);
    const left: string[] = [];
    for await (const name of vault.listNames(prefix)) left.push(name);
    expect(left).toEqual([]);
  });
});
