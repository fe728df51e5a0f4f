import { describe, expect, it } from 'vitest';
import { commitSnapshot } from '../../shared/backup/commit.js';
import { planFile } from '../../shared/backup/plan.js';
import type { BatchResult, ChangeRecord, PlannedBatch } from '../../shared/backup/types.js';
import { ExternalSorter } from '../../shared/vault/externalSort.js';
import { writeIndexedNdjson } from '../../shared/vault/indexedNdjson.js';
import { layout, snapshotIdFor } from '../../shared/vault/layout.js';
import { ManifestReader } from '../../shared/vault/manifestReader.js';
import type { ManifestFolder, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

/**
 * The commit on a run built by hand in the vault (change list, plan, batch results), with a sort budget of a
 * few records: every stream it merges is many sorted runs, as a million-item mailbox's would be.
 */

const MAILBOX = 'mbx-merge';
const folders: ManifestFolder[] = ['inbox', 'archive', 'notes'].map((id) => ({
  kind: 'folder',
  id,
  parentId: null,
  displayName: id,
  path: [id],
  type: 'IPF.Note',
  wellKnownName: null,
}));

const meta = (folderId: string, n: number, changeKey = 'ck1') => ({
  id: `item-${String(n).padStart(3, '0')}`,
  folderId,
  changeKey,
  type: 'message',
  size: 100 + n,
  subject: `subject ${n}`,
});

/** Writes a run whose listed items go in the order given (not sorted), planned in batches of 7, all exported. */
async function writeRun(
  vault: VaultStore,
  runId: string,
  records: ChangeRecord[],
  failing: Set<string> = new Set(),
): Promise<{ planVersion: string; batchCount: number }> {
  await vault.writeNdjsonGz(layout.runChanges(runId, MAILBOX), [...folders, ...records]);
  const toExport = records.flatMap((r) => (r.kind === 'upsert' && !r.known ? [r.item] : []));
  const batches: PlannedBatch[] = [];
  for (let at = 0; at < toExport.length; at += 7)
    batches.push({
      batch: batches.length,
      items: toExport.slice(at, at + 7).map(({ id, folderId, changeKey, size }) => ({ id, folderId, changeKey, size })),
    });
  const planVersion = `plan-${runId}`;
  await writeIndexedNdjson(vault, planFile(runId, MAILBOX), batches, planVersion);
  for (const planned of batches) {
    const results: BatchResult['results'] = [];
    for (const item of planned.items) {
      if (failing.has(item.id)) {
        results.push({ id: item.id, ok: false, code: 'ErrorItemCorrupt', message: 'corrupt' });
        continue;
      }
      // Stored for real: a commit without its claim looks each version up before it references it.
      const stored = await vault.writeItemVersion(
        layout.itemVersion(MAILBOX, item.id, item.changeKey),
        Buffer.from(`${item.id} ${item.changeKey}`),
      );
      const { sha256, length, written } = stored;
      results.push({ id: item.id, ok: true, blob: stored.blobName, sha256, length, written });
    }
    const result: BatchResult = {
      batch: planned.batch,
      planVersion,
      throttledResponses: 1,
      throttleWaitInMs: 10,
      results,
    };
    await vault.writeJson(layout.runBatchResult(runId, MAILBOX, planned.batch), result);
  }
  return { planVersion, batchCount: batches.length };
}

async function commitRun(
  vault: VaultStore,
  runId: string,
  takenAt: string,
  plan: { planVersion: string; batchCount: number },
  recordsInMemory: number,
) {
  const snapshotId = snapshotIdFor(takenAt, runId);
  const input = {
    runId,
    mailboxId: MAILBOX,
    upn: 'm@contoso.example',
    snapshotId,
    takenAt,
    startedAt: takenAt,
    ...plan,
  };
  const result = await commitSnapshot(vault, input, () => new Date(takenAt), { recordsInMemory });
  const record = (await vault.readJson<SnapshotRecord>(layout.snapshotRecord(MAILBOX, snapshotId)))!;
  return { result, record };
}

async function itemsOf(vault: VaultStore, record: SnapshotRecord): Promise<ManifestItem[]> {
  const items: ManifestItem[] = [];
  for await (const entry of (await ManifestReader.open(vault, record)).entries())
    if (entry.kind === 'item') items.push(entry);
  return items;
}

/** 120 items over three folders, listed in a scrambled order. */
function firstNight(): ChangeRecord[] {
  const records: ChangeRecord[] = [];
  for (let n = 0; n < 120; n++) records.push({ kind: 'upsert', item: meta(folders[(n * 7) % 3]!.id, (n * 37) % 120) });
  return records;
}

describe('a commit whose streams are larger than its sort budget', () => {
  it('spills sorted runs and merges them: the same snapshot as in memory, in (folder, id) order, indexed', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const { result, record } = await commitRun(vault, 'run1', '2026-11-01T02:00:00.000Z', plan, 4);
    expect(result.items).toMatchObject({ inSnapshot: 120, exported: 120, failed: 0, changed: 120 });
    expect(result.throttling).toEqual({ responses: plan.batchCount, waitInMs: 10 * plan.batchCount });
    const items = await itemsOf(vault, record);
    const keys = items.map((i) => `${i.folderId} ${i.id}`);
    expect(keys).toEqual([...keys].sort());
    expect(new Set(items.map((i) => i.id)).size).toBe(120);
    // Its sort runs are gone once the commit is done.
    const scratch: string[] = [];
    for await (const name of vault.listNames(layout.runCommitSort('run1', MAILBOX, ''))) scratch.push(name);
    expect(scratch).toEqual([]);
    const reader = await ManifestReader.open(vault, record);
    expect(reader.indexed).toBe(true);
  });

  it('carries over, replaces, removes and keeps stale over many sorted runs, as the next night commits it', async () => {
    const { vault } = await freshVault();
    const plan1 = await writeRun(vault, 'run1', firstNight());
    await commitRun(vault, 'run1', '2026-11-01T02:00:00.000Z', plan1, 4);
    const night2: ChangeRecord[] = [
      { kind: 'upsert', item: meta('inbox', 500) }, // new
      { kind: 'remove', id: 'item-000', folderId: 'inbox' },
      { kind: 'upsert', item: meta('inbox', 3, 'ck2') }, // changed
      { kind: 'upsert', item: meta('inbox', 3, 'ck3') }, // listed twice: the last listing counts
      { kind: 'upsert', item: meta('archive', 1, 'ck2') }, // changed, its export fails: the old one stays stale
    ];
    const plan2 = await writeRun(vault, 'run2', night2, new Set(['item-001']));
    const { result, record } = await commitRun(vault, 'run2', '2026-11-02T02:00:00.000Z', plan2, 3);
    expect(result.items).toMatchObject({ inSnapshot: 120, failed: 1, removed: 1 });
    expect(result.failures).toEqual([expect.objectContaining({ itemId: 'item-001', code: 'ErrorItemCorrupt' })]);
    const items = await itemsOf(vault, record);
    const byId = new Map(items.map((i) => [i.id, i]));
    expect(byId.has('item-000')).toBe(false);
    expect(byId.get('item-500')?.blob).toBe(layout.itemVersion(MAILBOX, 'item-500', 'ck1'));
    expect(byId.get('item-003')?.changeKey).toBe('ck3');
    expect(byId.get('item-001')).toMatchObject({ changeKey: 'ck1', stale: true });
    const keys = items.map((i) => `${i.folderId} ${i.id}`);
    expect(keys).toEqual([...keys].sort());
  });
});

describe('the external sort', () => {
  it('holds at most its budget, and keeps records of one key in the order they were added', async () => {
    const { vault } = await freshVault();
    const sorter = new ExternalSorter<{ key: string; n: number }>(
      { vault, prefix: 'sort/', recordsInMemory: 5 },
      (r) => r.key,
    );
    for (let n = 0; n < 53; n++) await sorter.add({ key: `k${(n * 11) % 17}`, n });
    expect(sorter.runNames.length).toBe(10);
    const out: Array<{ key: string; n: number }> = [];
    for await (const record of sorter.sorted()) out.push(record);
    expect(out.length).toBe(53);
    for (let i = 1; i < out.length; i++) {
      const [a, b] = [out[i - 1]!, out[i]!];
      expect(a.key <= b.key).toBe(true);
      if (a.key === b.key) expect(a.n).toBeLessThan(b.n);
    }
  });
});
