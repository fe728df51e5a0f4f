import { describe, expect, it } from 'vitest';
import { baselineOf, sortBaseline, withBudget, type PreviousItem } from '../../shared/backup/baseline.js';
import { planFile } from '../../shared/backup/plan.js';
import {
  itemGroups,
  knownVersion,
  pageRecords,
  resolveGroup,
  roundRecordKey,
  type ItemGroup,
  type ResolvedItem,
  type RoundRecord,
} from '../../shared/backup/planMerge.js';
import { PlanOutput } from '../../shared/backup/planOutput.js';
import type { ChangeRecord, PlannedBatch } from '../../shared/backup/types.js';
import type { ItemMeta } from '../../shared/mailbox/index.js';
import { readSortedRuns } from '../../shared/vault/externalSort.js';
import { IndexedNdjsonReader } from '../../shared/vault/indexedNdjson.js';
import { layout } from '../../shared/vault/layout.js';
import { writeManifest } from '../../shared/vault/manifestWriter.js';
import type { ManifestFolder, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

/**
 * Backup planning's decisions, rule by rule: how the rounds' records meet the last snapshot (planMerge.ts: which
 * versions are known, which are exported, which folders removed an item), how the change list and the plan are
 * written from them (planOutput.ts: folder order, only planned versions, batches), and what planning reads of the
 * last snapshot (baseline.ts). Records in memory, the vault on Azurite: quick enough for mutation testing.
 */

const meta = (id: string, folderId: string, changeKey = 'ck1', size = 10): ItemMeta => ({
  id,
  folderId,
  changeKey,
  type: 'IPM.Note',
  size,
});
const upsert = (id: string, folderId: string, changeKey = 'ck1', size = 10): RoundRecord => ({
  kind: 'upsert',
  item: meta(id, folderId, changeKey, size),
});
const remove = (id: string, folderId: string): RoundRecord => ({ kind: 'remove', id, folderId });
const previous = (id: string, folderId: string, changeKey = 'ck1'): PreviousItem => ({
  id,
  folderId,
  changeKey,
  blob: `blob-${id}-${changeKey}`,
  sha256: `sha-${id}`,
  length: 7,
});

async function* from<T>(records: T[]): AsyncGenerator<T> {
  yield* records;
}

async function all<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const record of source) out.push(record);
  return out;
}

/** A resolved group, written as `remove a`, `known a@ck1`, `new a@ck2 planned`. */
function described(group: ItemGroup): string[] {
  return resolveGroup(group).resolved.map(({ record, planned }) =>
    record.kind === 'remove'
      ? `remove ${record.folderId}`
      : `${record.known ? 'known' : 'new'} ${record.item.folderId}@${record.item.changeKey}${planned ? ' planned' : ''}`,
  );
}

describe('how a round meets the last snapshot (planMerge.ts)', () => {
  it('groups the rounds’ records with the last snapshot’s item by id, in the order the rounds listed them', async () => {
    const groups = await all(
      itemGroups(
        from([previous('a', 'f1'), previous('c', 'f1')]),
        from([upsert('a', 'f2'), remove('a', 'f1'), upsert('b', 'f1'), upsert('b', 'f3')]),
      ),
    );
    expect(groups).toEqual([
      { id: 'a', previous: previous('a', 'f1'), records: [upsert('a', 'f2'), remove('a', 'f1')] },
      { id: 'b', records: [upsert('b', 'f1'), upsert('b', 'f3')] },
      { id: 'c', previous: previous('c', 'f1'), records: [] },
    ]);
    expect(roundRecordKey(upsert('x', 'f1'))).toBe('x');
    expect(roundRecordKey(remove('y', 'f1'))).toBe('y');
  });

  it("a round's page gives an upsert per item listed in the folder, then a removal per item gone from it", () => {
    const page = {
      changed: [
        { id: 'a', changeKey: 'ck-a', size: 10 },
        { id: 'b', changeKey: 'ck-b' },
      ],
      removed: [{ id: 'gone', removed: true as const, reason: 'deleted' }],
    };
    expect(pageRecords(page, 'f1')).toEqual([
      { kind: 'upsert', item: { id: 'a', folderId: 'f1', changeKey: 'ck-a', type: 'IPM.Note', size: 10 } },
      { kind: 'upsert', item: { id: 'b', folderId: 'f1', changeKey: 'ck-b', type: 'IPM.Note', size: 0 } },
      { kind: 'remove', id: 'gone', folderId: 'f1' },
    ]);
    expect(pageRecords({ changed: [], removed: [] }, 'f1')).toEqual([]);
  });

  it('a version is known when the last snapshot stored the item with the same change key', () => {
    expect(knownVersion(previous('a', 'f1'), meta('a', 'f2'))).toEqual({
      kind: 'upsert',
      item: meta('a', 'f2'),
      known: { blob: 'blob-a-ck1', sha256: 'sha-a', length: 7 },
    });
    expect(knownVersion(previous('a', 'f1'), meta('a', 'f1', 'ck2'))).toEqual({
      kind: 'upsert',
      item: meta('a', 'f1', 'ck2'),
    });
    expect(knownVersion(undefined, meta('a', 'f1'))).toEqual({ kind: 'upsert', item: meta('a', 'f1') });
  });

  it('a new item is exported; an unchanged one is reused, not exported', () => {
    expect(described({ id: 'a', records: [upsert('a', 'f1')] })).toEqual(['new f1@ck1 planned']);
    expect(described({ id: 'a', previous: previous('a', 'f1'), records: [upsert('a', 'f1')] })).toEqual([
      'known f1@ck1',
    ]);
    expect(described({ id: 'a', previous: previous('a', 'f1'), records: [] })).toEqual([]);
  });

  it('a folder that listed an item twice keeps its last listing; removals come first, one per folder', () => {
    const group = {
      id: 'a',
      previous: previous('a', 'f1'),
      records: [upsert('a', 'f2', 'ck2'), remove('a', 'f1'), upsert('a', 'f2', 'ck3'), remove('a', 'f1')],
    };
    expect(described(group)).toEqual(['remove f1', 'new f2@ck3 planned']);
    const { upsertedIn, removedIn } = resolveGroup(group);
    expect(upsertedIn).toEqual(['f2']);
    expect([...removedIn]).toEqual(['f1']);
  });

  it('of the new versions the last listed is the one exported (Graph refuses an id twice in one call)', () => {
    // Listed in f1, then f2, then f1 again: folders in the order of their last listing, f1's planned.
    const group = { id: 'a', records: [upsert('a', 'f1', 'ck2'), upsert('a', 'f2', 'ck2'), upsert('a', 'f1', 'ck2')] };
    expect(described(group)).toEqual(['new f2@ck2', 'new f1@ck2 planned']);
    expect(resolveGroup(group).upsertedIn).toEqual(['f2', 'f1']);
    // A known version listed after the new one does not take the export from it.
    const mixed = { id: 'a', previous: previous('a', 'f1'), records: [upsert('a', 'f2', 'ck2'), upsert('a', 'f1')] };
    expect(described(mixed)).toEqual(['new f2@ck2 planned', 'known f1@ck1']);
    expect(resolveGroup({ id: 'a', records: [remove('a', 'f1')] }).upsertedIn).toEqual([]);
  });
});

const FOLDERS = ['inbox', 'archive', 'sent'];
const resolvedUpsert = (id: string, folderId: string, planned: boolean, size = 10): ResolvedItem => ({
  record: { kind: 'upsert', item: meta(id, folderId, 'ck1', size) },
  ...(planned ? { planned: true as const } : {}),
});
const resolvedKnown = (id: string, folderId: string): ResolvedItem => ({
  record: { kind: 'upsert', item: meta(id, folderId), known: { blob: `blob-${id}`, sha256: 's', length: 1 } },
});
const resolvedRemove = (id: string, folderId: string): ResolvedItem => ({ record: { kind: 'remove', id, folderId } });

async function planOutput(vault: VaultStore, recordsInMemory?: number): Promise<PlanOutput> {
  return new PlanOutput(vault, {
    runId: 'run1',
    mailboxId: 'mbx',
    folderIds: FOLDERS,
    sortIn: (part) => ({ vault, prefix: `sort/${part}/`, ...(recordsInMemory ? { recordsInMemory } : {}) }),
  });
}

async function addAll(output: PlanOutput): Promise<void> {
  for (const item of [
    resolvedUpsert('z1', 'sent', true, 30),
    resolvedRemove('a0', 'archive'), // sorts before inbox's items by id, after them by folder
    resolvedUpsert('b1', 'inbox', true, 50),
    resolvedKnown('k1', 'inbox'),
    resolvedUpsert('a1', 'inbox', false),
    resolvedUpsert('g1', 'gone', true, 5), // a folder not in the tree: last
    resolvedUpsert('a2', 'inbox', true, 20),
  ])
    await output.add(item);
}

const changeList = (vault: VaultStore) => all(vault.readNdjsonGz<ChangeRecord>(layout.runChanges('run1', 'mbx')));
const named = (record: ChangeRecord) =>
  record.kind === 'upsert'
    ? `${record.item.folderId}/${record.item.id}${record.known ? ' known' : ''}`
    : record.kind === 'remove'
      ? `${record.folderId}/-${record.id}`
      : record.kind;

async function writtenPlan(vault: VaultStore, batchCount: number): Promise<PlannedBatch[]> {
  return new IndexedNdjsonReader(vault).read<PlannedBatch>(planFile('run1', 'mbx'), 0, batchCount, 'v1');
}

describe('the change list and the plan (planOutput.ts)', () => {
  for (const [how, budget] of [
    ['in memory', undefined],
    ['through the vault', 2],
  ] as const)
    it(`writes the records in folder-tree order then id, and plans only the versions to export (${how})`, async () => {
      const { vault } = await freshVault('plan');
      const output = await planOutput(vault, budget);
      await addAll(output);
      expect([output.changedItems, output.removedItems]).toEqual([5, 1]);
      const head: ChangeRecord[] = [{ kind: 'resync', folderId: 'inbox' }];
      await output.writeChangeList(head);
      expect((await changeList(vault)).map(named)).toEqual([
        'resync',
        'inbox/a1',
        'inbox/a2',
        'inbox/b1',
        'inbox/k1 known',
        'archive/-a0',
        'sent/z1',
        'gone/g1',
      ]);
      const totals = await output.writePlan(
        planFile('run1', 'mbx'),
        { maxItemsPerBatch: 2, batchReportedBytes: 60 },
        'v1',
      );
      expect(totals).toEqual({ batchCount: 3, itemsToExport: 4, reportedBytesToExport: 105 });
      const batches = await writtenPlan(vault, 3);
      expect(batches.map((b) => [b.batch, b.items.map((i) => `${i.folderId}/${i.id}`)])).toEqual([
        [0, ['inbox/a2']],
        [1, ['inbox/b1']],
        [2, ['sent/z1', 'gone/g1']],
      ]);
      expect(batches[0]!.items[0]).toEqual({ id: 'a2', folderId: 'inbox', changeKey: 'ck1', size: 20 });
      await output.discard();
      expect(await all(vault.listNames('sort/'))).toEqual([]);
    });

  it('sorts through the vault in its own part of the run’s scratch folder', async () => {
    const { vault } = await freshVault('plan');
    const parts: string[] = [];
    const output = new PlanOutput(vault, {
      runId: 'run1',
      mailboxId: 'mbx',
      folderIds: FOLDERS,
      sortIn: (part) => {
        parts.push(part);
        return { vault, prefix: `sort/${part}/`, recordsInMemory: 1 };
      },
    });
    await addAll(output);
    expect(parts).toEqual(['changes']);
    expect((await all(vault.listNames('sort/changes/'))).length).toBe(7);
    await output.discard();
  });
});

const folder = (id: string): ManifestFolder => ({
  kind: 'folder',
  id,
  parentId: null,
  displayName: id,
  path: ['Top', id],
  type: 'IPF.Note',
  wellKnownName: null,
});
const manifestItem = (id: string, folderId: string): ManifestItem => ({
  kind: 'item',
  ...meta(id, folderId),
  blob: `blob-${id}`,
  sha256: `sha-${id}`,
  length: 3,
});

/** A committed snapshot of folders f1 (items a, c) and f2 (item b), and delta.json pointing at it. */
async function lastSnapshot(vault: VaultStore, mailboxId: string): Promise<SnapshotRecord> {
  const written = await writeManifest(
    vault,
    'm/manifest',
    [folder('f1'), folder('f2')],
    [manifestItem('a', 'f1'), manifestItem('c', 'f1'), manifestItem('b', 'f2')],
  );
  const record = {
    snapshotId: 's1',
    mailboxId,
    takenAt: '2026-11-01T02:00:00.000Z',
    manifestBlob: 'm/manifest',
    manifestSha256: written.sha256,
  } as SnapshotRecord;
  await vault.writeJson(layout.snapshotRecord(mailboxId, 's1'), record);
  await vault.writeJson(layout.deltaState(mailboxId), {
    itemDeltaLinks: { f1: 'link-f1' },
    lastSnapshotId: 's1',
    updatedAt: 'x',
  });
  return record;
}

describe('what planning reads of the last snapshot (baseline.ts)', () => {
  const sort = (vault: VaultStore, recordsInMemory?: number) => ({
    vault,
    prefix: 'sort/previous/',
    ...withBudget({ recordsInMemory }),
  });

  it('its folders, its items by id with their stored versions, counts per folder, when it was taken and the links', async () => {
    const { vault } = await freshVault('plan');
    await lastSnapshot(vault, 'mbx');
    const { baseline, items } = await sortBaseline(vault, 'mbx', sort(vault));
    expect(baseline).toEqual({
      state: { itemDeltaLinks: { f1: 'link-f1' }, lastSnapshotId: 's1', updatedAt: 'x' },
      folders: [folder('f1'), folder('f2')],
      counts: [
        ['f1', 2],
        ['f2', 1],
      ],
      takenAt: '2026-11-01T02:00:00.000Z',
      itemRuns: [],
    });
    const planned = baselineOf(vault, baseline, await items.seal());
    expect((await all(planned.itemsById.read())).map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect((await all(planned.itemsById.read()))[0]).toEqual({
      id: 'a',
      folderId: 'f1',
      changeKey: 'ck1',
      blob: 'blob-a',
      sha256: 'sha-a',
      length: 3,
    });
    expect(planned.takenAt).toEqual(new Date('2026-11-01T02:00:00.000Z'));
    expect(planned.folders.get('f2')).toEqual(folder('f2'));
    expect(planned.counts.get('f1')).toBe(2);
    expect(planned.state?.itemDeltaLinks).toEqual({ f1: 'link-f1' });
  });

  it('a checkpoint’s baseline reads its items from the sorted runs it names', async () => {
    const { vault } = await freshVault('plan');
    await lastSnapshot(vault, 'mbx');
    const { baseline, items } = await sortBaseline(vault, 'mbx', sort(vault, 1));
    const runs = await items.sealInVault();
    expect(runs).toHaveLength(3);
    expect(runs.every((name) => name.startsWith('sort/previous/'))).toBe(true);
    const planned = baselineOf(vault, { ...baseline, itemRuns: runs });
    expect((await all(planned.itemsById.read())).map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect((await all(readSortedRuns<PreviousItem>(vault, runs, (i) => i.id))).map((i) => i.id)).toEqual([
      'a',
      'b',
      'c',
    ]);
  });

  it('without a committed snapshot there is nothing to compare with, and no links to trust', async () => {
    const { vault } = await freshVault('plan');
    const none = await sortBaseline(vault, 'mbx', sort(vault));
    expect(none.baseline).toEqual({ folders: [], counts: [], itemRuns: [] });
    // An interrupted first run's links, with no snapshot behind them, are not used.
    await vault.writeJson(layout.deltaState('mbx'), { itemDeltaLinks: { f1: 'link' }, updatedAt: 'x' });
    expect((await sortBaseline(vault, 'mbx', sort(vault))).baseline).toEqual({ folders: [], counts: [], itemRuns: [] });
    await vault.writeJson(layout.deltaState('mbx'), { itemDeltaLinks: {}, lastSnapshotId: 'gone', updatedAt: 'x' });
    expect((await sortBaseline(vault, 'mbx', sort(vault))).baseline).toEqual({ folders: [], counts: [], itemRuns: [] });
    const planned = baselineOf(vault, none.baseline);
    expect(planned.takenAt).toBeUndefined();
    expect('takenAt' in planned).toBe(false);
    expect(planned.state).toBeUndefined();
    expect(await all(planned.itemsById.read())).toEqual([]);
  });

  it('the sort budget is passed on only when one is set', () => {
    expect(withBudget({ recordsInMemory: 5 })).toEqual({ recordsInMemory: 5 });
    expect(withBudget({})).toEqual({});
    expect(withBudget({ recordsInMemory: 0 })).toEqual({});
  });
});
