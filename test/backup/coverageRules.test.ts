import { describe, expect, it } from 'vitest';
import { coverageRecords, type CoverageBaseline, type FolderRoundIds } from '../../shared/backup/coverage.js';
import type { ChangeRecord } from '../../shared/backup/types.js';
import { ITEM_META_PROPERTIES } from '../../shared/mailbox/index.js';
import type { MailboxClient, MailboxItem } from '../../shared/graph/index.js';

/**
 * The proof of coverage, rule by rule, on a folder listing faked in memory (no vault, no simulator: quick enough
 * for mutation testing): the count the snapshot will hold against Exchange's, and when it falls short, each item
 * no round reported is an arrival (changed after planning started, less two minutes) or missed by delta and
 * backed up from the listing, reusing the stored version when its change key did not move.
 */

const MAILBOX = 'mbx';
const planStartedAt = new Date('2026-11-23T02:00:00Z');
/** Two minutes before planning started: changed then or later, an item arrived during the run. */
const ARRIVALS_FROM = '2026-11-23T01:58:00.000Z';
const OLD = '2026-11-01T00:00:00Z';

const round = (ids: { full?: boolean; upserts?: string[]; removed?: string[] }): FolderRoundIds => ({
  full: ids.full ?? false,
  upserts: new Set(ids.upserts ?? []),
  removed: new Set(ids.removed ?? []),
});

/** The last snapshot: item id → folder (and a stored version with change key `ck-{id}`). */
function baseline(items: Record<string, string>): CoverageBaseline {
  return {
    countIn: (folderId) => Object.values(items).filter((f) => f === folderId).length,
    itemOf: (id) =>
      items[id] === undefined
        ? undefined
        : { folderId: items[id], changeKey: `ck-${id}`, blob: `blob-${id}`, sha256: `sha-${id}`, length: 7 },
  };
}

/** A mailbox whose folders list these items; records which folders were listed. */
function client(listing: Record<string, MailboxItem[]>) {
  const listed: string[] = [];
  const graph = {
    async *listItems(mailboxId: string, folderId: string, options: { extendedProperties?: readonly string[] }) {
      expect(mailboxId).toBe(MAILBOX);
      expect(options.extendedProperties).toEqual(ITEM_META_PROPERTIES);
      listed.push(folderId);
      yield* listing[folderId] ?? [];
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

async function records(
  graph: MailboxClient,
  input: { counts: Record<string, number>; rounds: Record<string, FolderRoundIds>; last?: Record<string, string> },
): Promise<ChangeRecord[]> {
  const out: ChangeRecord[] = [];
  for await (const record of coverageRecords(graph, {
    mailboxId: MAILBOX,
    counts: new Map(Object.entries(input.counts)),
    rounds: new Map(Object.entries(input.rounds)),
    baseline: baseline(input.last ?? {}),
    planStartedAt,
  }))
    out.push(record);
  return out;
}

const matched = (folderId: string, exchangeCount: number) => ({
  kind: 'folderCount',
  folderId,
  exchangeCount,
  missedByDelta: 0,
  arrivedDuringRun: 0,
});

describe('the count a folder is compared by', () => {
  it('after a full listing: the items listed and not removed; equal or more is a match, without listing again', async () => {
    const { graph, listed } = client({});
    const rounds = { f: round({ full: true, upserts: ['a', 'b', 'c'], removed: ['c'] }) };
    expect(await records(graph, { counts: { f: 2 }, rounds })).toEqual([matched('f', 2)]);
    expect(await records(graph, { counts: { f: 1 }, rounds })).toEqual([matched('f', 1)]);
    expect(listed).toEqual([]);
    // A removed item does not count: Exchange's 3 is one more than the snapshot will hold.
    await records(graph, { counts: { f: 3 }, rounds });
    expect(listed).toEqual(['f']);
  });

  it('after a full listing, ignores the last snapshot: its items the listing did not give are gone', async () => {
    const { graph, listed } = client({});
    await records(graph, {
      counts: { f: 2 },
      rounds: { f: round({ full: true, upserts: ['a'] }) },
      last: { old: 'f' },
    });
    expect(listed).toEqual(['f']);
  });

  it('after a delta round: the last snapshot’s items, less those removed from the folder, plus those new to it', async () => {
    const { graph, listed } = client({});
    const last = { a: 'f', b: 'f', c: 'f', m: 'other' };
    // 3, less b (removed here), less nothing for x (never here), plus m (moved in) and n (new); c changed in place.
    const rounds = { f: round({ upserts: ['c', 'm', 'n', 'gone'], removed: ['b', 'x', 'gone'] }) };
    expect(await records(graph, { counts: { f: 4 }, rounds, last })).toEqual([matched('f', 4)]);
    expect(listed).toEqual([]);
    // One fewer counted than Exchange has: the folder is listed.
    await records(graph, { counts: { f: 5 }, rounds, last });
    expect(listed).toEqual(['f']);
  });

  it('says a folder the tree gave no count for was not compared, if the snapshot holds any of its items', async () => {
    const { graph } = client({});
    expect(
      await records(graph, {
        counts: {},
        rounds: { root: round({ full: true, upserts: ['a'] }), empty: round({ full: true }) },
      }),
    ).toEqual([{ kind: 'folderNotCompared', folderId: 'root', reason: expect.stringMatching(/no item count/) }]);
  });
});

describe('a folder that would hold fewer than Exchange counts', () => {
  it('is listed; an item no round reported is missed by delta and backed up, reusing an unchanged stored version', async () => {
    const { graph } = client({
      f: [item('reported'), item('kept'), item('moved-in'), item('stale', OLD, 'ck-new'), item('lost')],
    });
    const out = await records(graph, {
      counts: { f: 9 },
      rounds: { f: round({ upserts: ['reported'] }) },
      last: { kept: 'f', 'moved-in': 'g', stale: 'g' },
    });
    expect(out).toEqual([
      {
        kind: 'upsert',
        item: expect.objectContaining({ id: 'moved-in', folderId: 'f', changeKey: 'ck-moved-in' }),
        known: { blob: 'blob-moved-in', sha256: 'sha-moved-in', length: 7 },
      },
      { kind: 'upsert', item: expect.objectContaining({ id: 'stale', changeKey: 'ck-new' }) },
      { kind: 'upsert', item: expect.objectContaining({ id: 'lost', folderId: 'f' }) },
      { kind: 'folderCount', folderId: 'f', exchangeCount: 5, missedByDelta: 3, arrivedDuringRun: 0 },
    ]);
  });

  it('counts an item changed from two minutes before planning on as an arrival, not a gap', async () => {
    const { graph } = client({
      f: [
        item('just-before', '2026-11-23T01:57:59.999Z'),
        item('at-margin', ARRIVALS_FROM),
        item('during', '2026-11-23T02:30:00Z'),
        { id: 'created-during', createdDateTime: '2026-11-23T02:10:00Z' },
        { id: 'no-dates' },
      ],
    });
    const out = await records(graph, { counts: { f: 5 }, rounds: { f: round({}) } });
    expect(out.filter((r) => r.kind === 'upsert').map((r) => (r.kind === 'upsert' ? r.item.id : ''))).toEqual([
      'just-before',
      'no-dates',
    ]);
    expect(out.at(-1)).toEqual({
      kind: 'folderCount',
      folderId: 'f',
      exchangeCount: 5,
      missedByDelta: 2,
      arrivedDuringRun: 3,
    });
  });

  it('after a full listing, an item of the last snapshot in the folder that the round did not list is missed', async () => {
    const { graph } = client({ f: [item('a'), item('b'), item('c')] });
    const out = await records(graph, {
      counts: { f: 3 },
      rounds: { f: round({ full: true, upserts: ['a'] }) },
      last: { b: 'f' },
    });
    expect(out).toEqual([
      {
        kind: 'upsert',
        item: expect.objectContaining({ id: 'b' }),
        known: expect.objectContaining({ blob: 'blob-b' }),
      },
      { kind: 'upsert', item: expect.objectContaining({ id: 'c' }) },
      { kind: 'folderCount', folderId: 'f', exchangeCount: 3, missedByDelta: 2, arrivedDuringRun: 0 },
    ]);
  });

  it('backs up an item the round reported removed but Exchange still lists, and one kept that it removed', async () => {
    const { graph } = client({ f: [item('upserted-and-removed'), item('kept-but-removed')] });
    const out = await records(graph, {
      counts: { f: 3 },
      rounds: {
        f: round({ upserts: ['upserted-and-removed'], removed: ['upserted-and-removed', 'kept-but-removed'] }),
      },
      last: { 'kept-but-removed': 'f' },
    });
    expect(out.map((r) => (r.kind === 'upsert' ? r.item.id : r.kind))).toEqual([
      'upserted-and-removed',
      'kept-but-removed',
      'folderCount',
    ]);
  });

  it('compares each folder on its own', async () => {
    const { graph, listed } = client({ short: [item('x')] });
    const out = await records(graph, {
      counts: { ok: 0, short: 1 },
      rounds: { ok: round({ full: true }), short: round({ full: true }) },
    });
    expect(listed).toEqual(['short']);
    expect(out).toEqual([
      matched('ok', 0),
      { kind: 'upsert', item: expect.objectContaining({ id: 'x' }) },
      { kind: 'folderCount', folderId: 'short', exchangeCount: 1, missedByDelta: 1, arrivedDuringRun: 0 },
    ]);
  });
});
