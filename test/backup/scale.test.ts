import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { ManifestEntry, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { layout } from '../../shared/vault/layout.js';
import type { RunReport } from '../../shared/backup/types.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

let stack: Stack | undefined;
afterAll(() => stack?.close());

async function manifestItems(s: Stack, mailboxId: string, snapshotId: string): Promise<ManifestItem[]> {
  const record = await s.vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, snapshotId));
  const items: ManifestItem[] = [];
  for await (const entry of s.vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob))
    if (entry.kind === 'item') items.push(entry);
  return items;
}

describe('a tenant of a few thousand items with one over 50 MB', () => {
  it('is stored byte for byte, every item in the manifest', async () => {
    stack = await startStack({
      mailboxes: [
        { upn: 'alex@contoso.example', items: 1400, sizes: [2_000, 40_000], largeItems: [55_000_000] },
        { upn: 'bianca@contoso.example', items: 900, sizes: [2_000, 40_000] },
        { upn: 'helpdesk@contoso.example', kind: 'shared', items: 700, sizes: [2_000, 40_000] },
      ],
    });
    const { status } = await runBackup(stack);
    const report = status.report as RunReport;
    expect(report.status).toBe('Completed');
    let checked = 0;
    for (const result of report.mailboxes) {
      const mailbox = stack.sim.tenant.mailbox(result.mailboxId);
      const items = await manifestItems(stack, result.mailboxId, result.snapshotId!);
      expect(items.map((i) => i.id).sort()).toEqual([...mailbox.items.keys()].sort());
      for (const item of items) {
        const simItem = mailbox.items.get(item.id)!;
        expect(item.sha256).toBe(stack.sim.tenant.digest(simItem));
        // What is in the blob, not only what its metadata says.
        const hash = createHash('sha256');
        for await (const chunk of await stack.vault.openItemVersion(item.blob)) hash.update(chunk as Buffer);
        expect(hash.digest('hex')).toBe(item.sha256);
        checked++;
      }
      expect(stack.sim.throttle.countersFor(result.mailboxId).maxInFlight).toBeLessThanOrEqual(4);
    }
    expect(checked).toBe(3001);
    const large = report.mailboxes.find((m) => m.upn === 'alex@contoso.example')!;
    expect(large.bytesExported).toBeGreaterThan(55_000_000);
  }, 300_000);
});
