import { describe, expect, it, vi } from 'vitest';
import { commitSnapshot, type CommitOptions } from '../../shared/backup/commit.js';
import { planFile, type NextDeltaState } from '../../shared/backup/plan.js';
import type { BatchResult, ChangeRecord, ItemResult, PlannedBatch } from '../../shared/backup/types.js';
import { archiveMailboxOf } from '../../shared/vault/archiveLinks.js';
import { writeIndexedNdjson } from '../../shared/vault/indexedNdjson.js';
import { keyOf, layout, snapshotIdFor } from '../../shared/vault/layout.js';
import { claimMailbox, withMailboxLease } from '../../shared/vault/mailboxOwner.js';
import { ManifestReader } from '../../shared/vault/manifestReader.js';
import type { DeltaState, ManifestFolder, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

/**
 * The commit, rule by rule, on runs written by hand in the vault (change list, plan of one batch, its result,
 * the next delta links): what the snapshot keeps, replaces, marks stale and drops, what the report counts, where
 * the delta base moves, and when the commit refuses. Azurite only, no simulator: quick enough for mutation testing.
 */

const MAILBOX = 'mbx-rules';
const folder = (id: string): ManifestFolder => ({
  kind: 'folder',
  id,
  parentId: null,
  displayName: id,
  path: ['Top', id],
  type: 'IPF.Note',
  wellKnownName: null,
});

const meta = (id: string, folderId: string, changeKey = 'ck1') => ({
  id,
  folderId,
  changeKey,
  type: 'IPM.Note',
  size: 10,
  subject: `subject ${id}`,
});

interface Night {
  runId: string;
  takenAt: string;
  folders: string[];
  records: ChangeRecord[];
  /** Items whose export failed (with this code), or that got no outcome at all (`null`: the batch failed). */
  failing?: Record<string, string | null>;
  /** Items stored before by another run (`written: false`). */
  alreadyThere?: string[];
  nextLinks?: Record<string, string>;
  folderDeltaLink?: string;
  failedBatch?: string;
  /** Batches named failed with no batch in them (an orchestration passes an empty list). */
  noFailedBatches?: true;
  /** Planning wrote no next delta links for the run. */
  noNextDelta?: true;
  archiveOf?: string;
  options?: CommitOptions;
  /** Commit with the commit's own clock (the real time) rather than one a minute after takenAt. */
  realClock?: true;
}

/** Writes the run and commits it; returns the result, the record and the snapshot's items. */
async function commitNight(vault: VaultStore, night: Night) {
  const { runId } = night;
  await vault.writeNdjsonGz(layout.runChanges(runId, MAILBOX), [...night.folders.map(folder), ...night.records]);
  const toExport = night.records.flatMap((r) => (r.kind === 'upsert' && !r.known ? [r.item] : []));
  const planVersion = `plan-${runId}`;
  const planned: PlannedBatch = {
    batch: 0,
    items: toExport.map(({ id, folderId, changeKey, size }) => ({ id, folderId, changeKey, size })),
  };
  await writeIndexedNdjson(vault, planFile(runId, MAILBOX), [planned], planVersion);
  const results: ItemResult[] = [];
  for (const item of toExport) {
    const failure = night.failing?.[item.id];
    if (failure === null) continue;
    if (failure) {
      results.push({ id: item.id, ok: false, code: failure, message: `export failed: ${failure}` });
      continue;
    }
    const stored = await vault.writeItemVersion(
      layout.itemVersion(MAILBOX, item.id, item.changeKey),
      Buffer.from(`${item.id} ${item.changeKey}`),
    );
    const written = !night.alreadyThere?.includes(item.id);
    results.push({
      id: item.id,
      ok: true,
      blob: stored.blobName,
      sha256: stored.sha256,
      length: stored.length,
      written,
    });
  }
  const result: BatchResult = { batch: 0, planVersion, throttledResponses: 2, throttleWaitInMs: 30, results };
  await vault.writeJson(layout.runBatchResult(runId, MAILBOX, 0), result);
  const next: NextDeltaState = {
    itemDeltaLinks: night.nextLinks ?? {},
    ...(night.folderDeltaLink ? { folderDeltaLink: night.folderDeltaLink } : {}),
  };
  if (!night.noNextDelta) await vault.writeJson(layout.runNextDelta(runId, MAILBOX), next);
  const snapshotId = snapshotIdFor(night.takenAt, runId);
  const input = {
    runId,
    mailboxId: MAILBOX,
    upn: 'm@contoso.example',
    snapshotId,
    takenAt: night.takenAt,
    startedAt: night.takenAt,
    planVersion,
    batchCount: 1,
    ...(night.failedBatch ? { failedBatches: [{ batch: 0, reason: night.failedBatch }] } : {}),
    ...(night.noFailedBatches ? { failedBatches: [] } : {}),
    ...(night.archiveOf ? { archiveOf: night.archiveOf } : {}),
  };
  const committedAt = new Date(Date.parse(night.takenAt) + 60_000);
  const outcome = night.realClock
    ? await commitSnapshot(vault, input, undefined, night.options)
    : await commitSnapshot(vault, input, () => committedAt, night.options);
  const record = (await vault.readJson<SnapshotRecord>(layout.snapshotRecord(MAILBOX, snapshotId)))!;
  const items: ManifestItem[] = [];
  const folders: ManifestFolder[] = [];
  for await (const entry of (await ManifestReader.open(vault, record)).entries())
    if (entry.kind === 'item') items.push(entry);
    else folders.push(entry);
  return { result: outcome, record, items, folders, input, byId: new Map(items.map((i) => [i.id, i])) };
}

const deltaState = (vault: VaultStore) => vault.readJson<DeltaState>(layout.deltaState(MAILBOX));

/** A first night: a1, a2 in folder a; b1 in folder b; every export stored. */
async function firstNight(vault: VaultStore) {
  return commitNight(vault, {
    runId: 'run1',
    takenAt: '2026-11-01T02:00:00.000Z',
    folders: ['a', 'b'],
    records: [
      { kind: 'upsert', item: meta('a1', 'a') },
      { kind: 'upsert', item: meta('a2', 'a') },
      { kind: 'upsert', item: meta('b1', 'b') },
    ],
    nextLinks: { a: 'link-a1', b: 'link-b1' },
    folderDeltaLink: 'folders-1',
  });
}

describe('the snapshot a commit writes', () => {
  it('a first night: every stored version, counted, with the delta base moved to its links', async () => {
    const { vault } = await freshVault('commit');
    const { result, record, items, folders } = await firstNight(vault);
    expect(folders).toEqual([folder('a'), folder('b')]);
    expect(items.map((i) => `${i.folderId}/${i.id}`)).toEqual(['a/a1', 'a/a2', 'b/b1']);
    expect(record).toMatchObject({ status: 'Completed', itemCount: 3, folderCount: 2, failedItemCount: 0 });
    expect(record.previousSnapshotId).toBeNull();
    expect(record.totalBytes).toBe(items.reduce((sum, i) => sum + i.length, 0));
    expect(result.items).toEqual({ inSnapshot: 3, exported: 3, alreadyStored: 0, failed: 0, removed: 0, changed: 3 });
    expect(result.bytesExported).toBe(record.totalBytes);
    expect(result.throttling).toEqual({ responses: 2, waitInMs: 30 });
    expect(result.durationInMs).toBe(60_000);
    expect(await deltaState(vault)).toEqual({
      itemDeltaLinks: { a: 'link-a1', b: 'link-b1' },
      folderDeltaLink: 'folders-1',
      lastSnapshotId: record.snapshotId,
      updatedAt: '2026-11-01T02:01:00.000Z',
    });
  });

  it('the next night: carries over, replaces, reuses a known version, removes, and keeps stale what failed', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    const a1 = first.byId.get('a1')!;
    const { result, record, items, byId } = await commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a', 'b'],
      records: [
        { kind: 'remove', id: 'a2', folderId: 'a' },
        { kind: 'upsert', item: meta('b1', 'b', 'ck2') }, // changed, its export fails: the old one stays stale
        { kind: 'upsert', item: meta('b2', 'b') }, // new, its export fails: missing
        { kind: 'upsert', item: meta('a3', 'a') }, // new, already stored by another run
        { kind: 'upsert', item: meta('a1', 'b'), known: { blob: a1.blob, sha256: a1.sha256, length: a1.length } },
      ],
      failing: { b1: 'ErrorItemCorrupt', b2: 'ErrorItemCorrupt' },
      alreadyThere: ['a3'],
      nextLinks: { a: 'link-a2', b: 'link-b2' },
    });
    expect(items.map((i) => `${i.folderId}/${i.id}`)).toEqual(['a/a1', 'a/a3', 'b/a1', 'b/b1']);
    expect(byId.get('b1')).toMatchObject({ changeKey: 'ck1', stale: true });
    expect(items.find((i) => i.folderId === 'b' && i.id === 'a1')).toMatchObject({ blob: a1.blob, changeKey: 'ck1' });
    expect(byId.get('a3')?.stale).toBeUndefined();
    expect(result.items).toEqual({ inSnapshot: 4, exported: 1, alreadyStored: 1, failed: 2, removed: 1, changed: 3 });
    expect(result.failures).toEqual([
      {
        itemId: 'b1',
        folderPath: 'Top/b',
        subject: 'subject b1',
        code: 'ErrorItemCorrupt',
        message: 'export failed: ErrorItemCorrupt',
      },
      {
        itemId: 'b2',
        folderPath: 'Top/b',
        subject: 'subject b2',
        code: 'ErrorItemCorrupt',
        message: 'export failed: ErrorItemCorrupt',
      },
    ]);
    expect(record).toMatchObject({ status: 'CompletedWithErrors', itemCount: 4, failedItemCount: 2 });
    expect(record.previousSnapshotId).toBe(first.record.snapshotId);
    // b's link stays where it was, so that the next run lists b1 and b2 again; a's moves on.
    expect((await deltaState(vault))?.itemDeltaLinks).toEqual({ a: 'link-a2', b: 'link-b1' });
  });

  it('names a batch whose activity failed, and drops the items of a folder that is gone', async () => {
    const { vault } = await freshVault('commit');
    await firstNight(vault);
    const { result, items } = await commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a'],
      records: [{ kind: 'upsert', item: meta('a4', 'a') }],
      failing: { a4: null },
      failedBatch: 'export timed out',
      nextLinks: { a: 'link-a2' },
    });
    expect(items.map((i) => i.id)).toEqual(['a1', 'a2']);
    expect(result.failures).toEqual([
      expect.objectContaining({
        itemId: 'a4',
        code: 'NotExported',
        message: 'its export activity failed: export timed out',
      }),
    ]);
    expect((await deltaState(vault))?.itemDeltaLinks).toEqual({ a: 'link-a1' });
  });

  it('an item with no outcome and no failed batch is said to have none recorded', async () => {
    const { vault } = await freshVault('commit');
    const { result } = await commitNight(vault, {
      runId: 'run1',
      takenAt: '2026-11-01T02:00:00.000Z',
      folders: ['a'],
      records: [{ kind: 'upsert', item: meta('a1', 'a') }],
      failing: { a1: null },
    });
    expect(result.failures).toEqual([
      expect.objectContaining({ itemId: 'a1', code: 'NotExported', message: 'no outcome was recorded for it' }),
    ]);
    expect(result.items.inSnapshot).toBe(0);
  });

  it('a resynced folder keeps only what its listing gave; a folder where delta missed items is read in full next', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    const a1 = first.byId.get('a1')!;
    const { items, result } = await commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a', 'b'],
      records: [
        { kind: 'resync', folderId: 'a' },
        { kind: 'upsert', item: meta('a1', 'a'), known: { blob: a1.blob, sha256: a1.sha256, length: a1.length } },
        { kind: 'folderCount', folderId: 'b', exchangeCount: 2, missedByDelta: 1, arrivedDuringRun: 0 },
        { kind: 'upsert', item: meta('b9', 'b') },
      ],
      nextLinks: { a: 'link-a2', b: 'link-b2' },
    });
    expect(items.map((i) => `${i.folderId}/${i.id}`)).toEqual(['a/a1', 'b/b1', 'b/b9']);
    expect(result.items).toMatchObject({ exported: 1, changed: 1, removed: 0 });
    expect((await deltaState(vault))?.itemDeltaLinks).toEqual({ a: 'link-a2' });
  });

  it('reports the folders that failed, were listed instead, lack search keys or were not compared, and the coverage', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    const { result, record } = await commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a', 'b', 'c'],
      records: [
        { kind: 'folderFailed', folderId: 'c', reason: 'access denied' },
        { kind: 'folderEnumerated', folderId: 'a', reason: 'delta refused' },
        { kind: 'metadataGap', folderId: 'a', items: 2, reason: 'no search key' },
        { kind: 'folderNotCompared', folderId: 'b', reason: 'no count' },
        { kind: 'upsert', item: meta('b2', 'b', 'ck1') }, // new, fails: missing from b
        { kind: 'upsert', item: meta('b1', 'b', 'ck2') }, // changed, fails: the old one stays (not missing)
        { kind: 'upsert', item: meta('b3', 'b', 'ck1') }, // new, fails: missing from b
        { kind: 'folderCount', folderId: 'a', exchangeCount: 3, missedByDelta: 0, arrivedDuringRun: 0 },
        { kind: 'folderCount', folderId: 'b', exchangeCount: 3, missedByDelta: 0, arrivedDuringRun: 0 },
        { kind: 'folderCount', folderId: 'c', exchangeCount: 9, missedByDelta: 0, arrivedDuringRun: 0 },
      ],
      failing: { b1: 'ErrorItemCorrupt', b2: 'ErrorItemCorrupt', b3: 'ErrorItemCorrupt' },
      nextLinks: { a: 'link-a2', b: 'link-b2', c: 'link-c2' },
    });
    expect(result.failedFolders).toEqual([{ folderPath: 'Top/c', reason: 'access denied' }]);
    expect(result.enumeratedFolders).toEqual([{ folderPath: 'Top/a', reason: 'delta refused' }]);
    expect(result.itemsWithoutSearchKey).toEqual([{ folderPath: 'Top/a', reason: 'no search key', items: 2 }]);
    expect(result.coverage).toEqual({
      foldersCompared: 2,
      folders: [
        expect.objectContaining({
          folderPath: 'Top/a',
          exchangeCount: 3,
          inSnapshot: 2,
          difference: 1,
          unexplained: 1,
        }),
        expect.objectContaining({ folderPath: 'Top/b', exchangeCount: 3, inSnapshot: 1, failed: 2, unexplained: 0 }),
      ],
      notCompared: [{ folderPath: 'Top/b', reason: 'no count' }],
    });
    expect(record).toMatchObject({ status: 'CompletedWithErrors', previousSnapshotId: first.record.snapshotId });
    // a has an unexplained gap: its link goes, so that the next run reads it in full; b keeps its old one (its
    // exports failed); c's next link is whatever planning wrote for it.
    expect(await deltaState(vault)).toEqual({
      itemDeltaLinks: { b: 'link-b1', c: 'link-c2' },
      lastSnapshotId: record.snapshotId,
      updatedAt: '2026-11-02T02:01:00.000Z',
    });
  });

  it('a folder that failed alone makes the mailbox CompletedWithErrors; counts that could not be read are said', async () => {
    const { vault } = await freshVault('commit');
    const { result, record } = await commitNight(vault, {
      runId: 'run1',
      takenAt: '2026-11-01T02:00:00.000Z',
      folders: ['a', 'c'],
      records: [
        { kind: 'upsert', item: meta('a1', 'a') },
        { kind: 'folderFailed', folderId: 'c', reason: 'access denied' },
        { kind: 'folderCount', folderId: 'a', exchangeCount: 1, missedByDelta: 0, arrivedDuringRun: 0 },
      ],
    });
    expect(record.status).toBe('CompletedWithErrors');
    expect(result.coverage).toEqual({ foldersCompared: 1, folders: [] });
    const unchecked = await commitNight((await freshVault('commit')).vault, {
      runId: 'run1',
      takenAt: '2026-11-01T02:00:00.000Z',
      folders: ['a'],
      records: [{ kind: 'coverageUnchecked', reason: 'counts unreadable' }],
    });
    expect(unchecked.result.coverage).toEqual({ foldersCompared: 0, folders: [], unchecked: 'counts unreadable' });
    // Unchecked coverage alone, with every item stored and no folder failed, is an error too.
    expect(unchecked.record.status).toBe('CompletedWithErrors');
  });

  it('does not reference a stored version a sweep deleted before the commit', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    const a1 = first.byId.get('a1')!;
    await vault.deleteIfExists(a1.blob);
    const { items, result } = await commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a', 'b'],
      records: [
        { kind: 'upsert', item: meta('a1', 'b'), known: { blob: a1.blob, sha256: a1.sha256, length: a1.length } },
      ],
      nextLinks: { a: 'link-a2', b: 'link-b2' },
    });
    expect(items.filter((i) => i.folderId === 'b').map((i) => i.id)).toEqual(['b1']);
    expect(result.failures).toEqual([
      expect.objectContaining({
        itemId: 'a1',
        code: 'VersionPruned',
        message: 'its stored version was pruned before the commit; exported again next run',
      }),
    ]);
    expect((await deltaState(vault))?.itemDeltaLinks).toEqual({ a: 'link-a2', b: 'link-b1' });
  });
});

describe('when a commit repeats or may not commit', () => {
  it('a retry after the result was written gives the same result, and moves nothing', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    const again = await commitSnapshot(vault, first.input, () => new Date('2026-11-05T00:00:00Z'));
    expect(again).toEqual(first.result);
    expect((await deltaState(vault))?.updatedAt).toBe('2026-11-01T02:01:00.000Z');
  });

  it('a retry after the record but before the result rebuilds the tally without rewriting the manifest', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    await vault.deleteIfExists(layout.runMailboxResult('run1', MAILBOX));
    const moved = await deltaState(vault);
    const again = await commitSnapshot(vault, first.input, () => new Date('2026-11-01T02:09:00.000Z'));
    expect(await deltaState(vault)).toEqual(moved); // it already names this snapshot: not written again
    expect(again.items).toEqual(first.result.items);
    expect(again.snapshotId).toBe(first.record.snapshotId);
    const record = await vault.readJson<SnapshotRecord>(layout.snapshotRecord(MAILBOX, first.record.snapshotId));
    expect(record).toEqual(first.record);
  });

  it('refuses while another run owns the mailbox; its own claim is given up once it commits', async () => {
    const { vault } = await freshVault('commit');
    const key = keyOf(MAILBOX);
    expect(await claimMailbox(vault, key, 'other', new Date('2026-11-01T01:00:00Z'))).toEqual({ granted: true });
    await expect(firstNight(vault)).rejects.toThrow('Backup other owns this mailbox; run1 may not commit to it');
    // Once the other run's result is there, it has ended: run1 claims and commits, and its claim is given up.
    await vault.writeJson(layout.runMailboxResult('other', MAILBOX), {});
    expect(await claimMailbox(vault, key, 'run1', new Date('2026-11-01T01:30:00Z'))).toEqual({ granted: true });
    await firstNight(vault);
    expect(await claimMailbox(vault, key, 'run2', new Date('2026-11-02T01:00:00Z'))).toEqual({ granted: true });
  });

  it('looks up the versions it references only when a sweep may have run since its claim', async () => {
    const { vault } = await freshVault('commit');
    const lookups = vi.spyOn(vault, 'getItemVersion');
    expect(await claimMailbox(vault, keyOf(MAILBOX), 'run1', new Date('2026-11-01T01:00:00Z'))).toEqual({
      granted: true,
    });
    await firstNight(vault);
    expect(lookups).not.toHaveBeenCalled();
    // Without a claim (an orchestration from before claims), it cannot tell: every version is looked up.
    await commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a'],
      records: [{ kind: 'upsert', item: meta('a5', 'a') }],
    });
    expect(lookups).toHaveBeenCalledTimes(1);
  });

  it('a retry of an older run after a newer one committed does not move the delta base back', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    await commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a', 'b'],
      records: [],
      nextLinks: { a: 'link-a2', b: 'link-b2' },
    });
    const moved = await deltaState(vault);
    await vault.deleteIfExists(layout.runMailboxResult('run1', MAILBOX));
    await commitSnapshot(vault, first.input, () => new Date('2026-11-03T00:00:00Z'));
    expect(await deltaState(vault)).toEqual(moved);
  });

  it('refuses to commit behind a newer snapshot', async () => {
    const { vault } = await freshVault('commit');
    await firstNight(vault);
    await expect(
      commitNight(vault, {
        runId: 'run0',
        takenAt: '2026-10-31T02:00:00.000Z',
        folders: ['a'],
        records: [],
      }),
    ).rejects.toThrow(/is newer than this run's; run0 does not commit behind it/);
  });
});

describe('what a commit records beyond the items', () => {
  it('an archive is recorded as its primary mailbox’s and linked from it; the commit’s clock is the real one', async () => {
    const { vault } = await freshVault('commit');
    const before = Date.now();
    const { record, result } = await commitNight(vault, {
      runId: 'run1',
      takenAt: '2026-11-01T02:00:00.000Z',
      folders: ['a'],
      records: [{ kind: 'upsert', item: meta('a1', 'a') }],
      archiveOf: 'primary-mbx',
      realClock: true,
    });
    expect(record.archiveOf).toBe('primary-mbx');
    expect(result.archiveOf).toBe('primary-mbx');
    expect(await archiveMailboxOf(vault, 'primary-mbx')).toBe(MAILBOX);
    expect(Date.parse(record.committedAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(record.committedAt)).toBeLessThanOrEqual(Date.now());
    const plain = await firstNight((await freshVault('commit')).vault);
    expect(plain.record.archiveOf).toBeUndefined();
    expect(plain.result.archiveOf).toBeUndefined();
  });

  it('a folder note or count for a folder the change list does not name has an empty path', async () => {
    const { vault } = await freshVault('commit');
    const { result } = await commitNight(vault, {
      runId: 'run1',
      takenAt: '2026-11-01T02:00:00.000Z',
      folders: ['a'],
      records: [
        { kind: 'folderFailed', folderId: 'x', reason: 'access denied' },
        { kind: 'folderEnumerated', folderId: 'y', reason: 'delta refused' },
        { kind: 'folderCount', folderId: 'z', exchangeCount: 2, missedByDelta: 0, arrivedDuringRun: 0 },
      ],
    });
    expect(result.failedFolders).toEqual([{ folderPath: '', reason: 'access denied' }]);
    expect(result.enumeratedFolders).toEqual([{ folderPath: '', reason: 'delta refused' }]);
    expect(result.coverage?.folders).toEqual([expect.objectContaining({ folderPath: '', exchangeCount: 2 })]);
  });

  it('an empty list of failed batches is no failure; without next links from planning no folder keeps one', async () => {
    const { vault } = await freshVault('commit');
    await firstNight(vault);
    const { result, record } = await commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a', 'b'],
      records: [{ kind: 'upsert', item: meta('a4', 'a') }],
      failing: { a4: null },
      noFailedBatches: true,
      noNextDelta: true,
    });
    expect(result.failures).toEqual([
      expect.objectContaining({ itemId: 'a4', code: 'NotExported', message: 'no outcome was recorded for it' }),
    ]);
    // a keeps its old link (a4 failed); b would take planning's next link, and there is none.
    expect(await deltaState(vault)).toEqual({
      itemDeltaLinks: { a: 'link-a1' },
      lastSnapshotId: record.snapshotId,
      updatedAt: '2026-11-02T02:01:00.000Z',
    });
  });

  it('a run taken at the same instant as the previous snapshot is not behind it: it commits and moves the base', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    const { record } = await commitNight(vault, {
      runId: 'run2',
      takenAt: first.record.takenAt,
      folders: ['a', 'b'],
      records: [],
      nextLinks: { a: 'link-a2', b: 'link-b2' },
    });
    expect(record.previousSnapshotId).toBe(first.record.snapshotId);
    expect(await deltaState(vault)).toMatchObject({
      itemDeltaLinks: { a: 'link-a2', b: 'link-b2' },
      lastSnapshotId: record.snapshotId,
    });
  });

  it('looks up the versions it references when a sweep ran after its claim', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    const a1 = first.byId.get('a1')!;
    const key = keyOf(MAILBOX);
    expect(await claimMailbox(vault, key, 'run2', new Date('2026-11-02T01:00:00Z'))).toEqual({ granted: true });
    // A sweep counts itself in the owner record (inFlight.ts) and takes a1's version.
    await withMailboxLease(vault, key, async (held) => {
      const owner = await held.read();
      await held.write({ ...owner, prunes: owner.prunes + 1 });
    });
    await vault.deleteIfExists(a1.blob);
    const { items, result } = await commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a', 'b'],
      records: [
        { kind: 'upsert', item: meta('a1', 'b'), known: { blob: a1.blob, sha256: a1.sha256, length: a1.length } },
      ],
    });
    expect(items.filter((i) => i.folderId === 'b').map((i) => i.id)).toEqual(['b1']);
    expect(result.failures).toEqual([expect.objectContaining({ itemId: 'a1', code: 'VersionPruned' })]);
  });
});

describe('the commit’s sorts through the vault', () => {
  const sortFolder = (runId: string) => layout.runCommitSort(runId, MAILBOX, 'x').replace(/x\/$/, '');
  const secondNight = (
    vault: VaultStore,
    options: Night['options'] = { recordsInMemory: 1 },
  ): Promise<Awaited<ReturnType<typeof commitNight>>> =>
    commitNight(vault, {
      runId: 'run2',
      takenAt: '2026-11-02T02:00:00.000Z',
      folders: ['a', 'b'],
      records: [
        { kind: 'upsert', item: meta('b1', 'b', 'ck2') },
        { kind: 'remove', id: 'a2', folderId: 'a' },
        { kind: 'upsert', item: meta('a3', 'a') },
      ],
      nextLinks: { a: 'link-a2', b: 'link-b2' },
      options,
    });

  /** Rewrites the first snapshot as one committed before indexes: no index, items in no particular order. */
  async function asCommittedBeforeIndexes(vault: VaultStore, first: Awaited<ReturnType<typeof firstNight>>) {
    await vault.writeNdjsonGz('old/manifest', [...first.folders, ...first.items.slice().reverse()]);
    const { manifestIndexBlob, ...unindexed } = first.record;
    void manifestIndexBlob;
    await vault.writeJson(layout.snapshotRecord(MAILBOX, first.record.snapshotId), {
      ...unindexed,
      manifestBlob: 'old/manifest',
    });
  }

  it('a previous manifest from before indexes is sorted once, in the run’s folder, and the runs are deleted', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    await asCommittedBeforeIndexes(vault, first);
    const writes = vi.spyOn(vault, 'writeNdjsonGz');
    const { items, byId, result } = await secondNight(vault);
    expect(items.map((i) => `${i.folderId}/${i.id}`)).toEqual(['a/a1', 'a/a3', 'b/b1']);
    expect(byId.get('b1')?.changeKey).toBe('ck2');
    expect(result.items).toMatchObject({ inSnapshot: 3, removed: 1, changed: 2 });
    const sortRuns = writes.mock.calls.map(([name]) => name).filter((name) => !name.endsWith('changes.ndjson.gz'));
    expect(sortRuns.every((name) => name.startsWith(sortFolder('run2')))).toBe(true);
    expect(sortRuns.filter((name) => name.includes('/commit-sort/previous/'))).toHaveLength(3);
    expect(sortRuns.filter((name) => name.includes('/commit-sort/changes/'))).toHaveLength(3);
    const left: string[] = [];
    for await (const name of vault.listNames(sortFolder('run2'))) left.push(name);
    expect(left).toEqual([]);
  });

  it('a previous manifest from before indexes, sorted in a commit of many slices, is merged from its sorted runs', async () => {
    const { vault } = await freshVault('commit');
    const first = await firstNight(vault);
    await asCommittedBeforeIndexes(vault, first);
    const { items, byId, result } = await secondNight(vault, { recordsInMemory: 1, sliceRecords: 2 });
    expect(items.map((i) => `${i.folderId}/${i.id}`)).toEqual(['a/a1', 'a/a3', 'b/b1']);
    expect(byId.get('b1')?.changeKey).toBe('ck2');
    expect(result.items).toMatchObject({ inSnapshot: 3, removed: 1, changed: 2 });
  });

  it('counts the items of a previous manifest from before indexes it sorts against the slice’s budget', async () => {
    const checkpointsWith = async (sliceRecords: number) => {
      const { vault } = await freshVault('commit');
      await asCommittedBeforeIndexes(vault, await firstNight(vault));
      const writes = vi.spyOn(vault, 'writeJson');
      const { items } = await secondNight(vault, { recordsInMemory: 1, sliceRecords });
      expect(items.map((i) => `${i.folderId}/${i.id}`)).toEqual(['a/a1', 'a/a3', 'b/b1']);
      return writes.mock.calls.filter(([name]) => name === layout.runCommitProgress('run2', MAILBOX)).length;
    };
    // 3 changes, 2 outcomes and the 3 previous items sorted, merged with the 3 previous items' keys: 8 + 8 + 3.
    expect(await checkpointsWith(19)).toBe(0);
    expect(await checkpointsWith(18)).toBe(1);
  });

  it('an indexed previous manifest is merged as it is, not sorted again', async () => {
    const { vault } = await freshVault('commit');
    await firstNight(vault);
    const writes = vi.spyOn(vault, 'writeNdjsonGz');
    const { items } = await secondNight(vault);
    expect(items.map((i) => `${i.folderId}/${i.id}`)).toEqual(['a/a1', 'a/a3', 'b/b1']);
    const names = writes.mock.calls.map(([name]) => name);
    expect(names.filter((name) => name.includes('/commit-sort/changes/'))).toHaveLength(3);
    expect(names.filter((name) => name.includes('/commit-sort/previous/'))).toEqual([]);
  });
});
