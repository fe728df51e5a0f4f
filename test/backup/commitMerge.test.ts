import { describe, expect, it } from 'vitest';
import { ExternalSorter } from '../../shared/vault/externalSort.js';
import { layout } from '../../shared/vault/layout.js';
import { ManifestReader } from '../../shared/vault/manifestReader.js';
import { commitRun, firstNight, itemsOf, MAILBOX, secondNight, writeRun } from '../support/commitRun.js';
import { freshVault } from '../support/vault.js';

/**
 * The commit on a run built by hand in the vault (change list, plan, batch results), with a sort budget of a
 * few records: every stream it merges is many sorted runs, as a million-item mailbox's would be.
 */

describe('a commit whose streams are larger than its sort budget', () => {
  it('spills sorted runs and merges them: the same snapshot as in memory, in (folder, id) order, indexed', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const { result, record } = await commitRun(vault, 'run1', '2026-11-01T02:00:00.000Z', plan, { recordsInMemory: 4 });
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
    await commitRun(vault, 'run1', '2026-11-01T02:00:00.000Z', plan1, { recordsInMemory: 4 });
    const night2 = secondNight();
    const plan2 = await writeRun(vault, 'run2', night2.records, night2.failing);
    const { result, record } = await commitRun(vault, 'run2', '2026-11-02T02:00:00.000Z', plan2, {
      recordsInMemory: 3,
    });
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
