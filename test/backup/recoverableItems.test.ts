import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimItem, SimMailbox } from '../../local/simulator/index.js';
import type { RunReport } from '../../shared/backup/types.js';
import type { RestoreReport } from '../../shared/restore/types.js';
import { layout } from '../../shared/vault/layout.js';
import type { ManifestEntry, SnapshotRecord } from '../../shared/vault/records.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

/**
 * With MAILBOX_VAULT_BACKUP_RECOVERABLE_ITEMS, what a user deleted (soft-deleted through Graph, into
 * recoverableitemsdeletions) is in the snapshot as `Recoverable Items/Deletions`, byte for byte, browsable, and
 * restored into normal folders.
 */

const UPN = 'rosa@contoso.example';
let stack: Stack;
let mailbox: SimMailbox;

/** Soft-deletes through Graph's own DELETE, as a user's client would. */
async function softDelete(item: SimItem): Promise<void> {
  const folder = encodeURIComponent(item.folderId);
  const url = `${stack.sim.baseUrl}/beta/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}/folders/${folder}/items/${encodeURIComponent(item.id)}?disposalType=softDelete`;
  const response = await fetch(url, { method: 'DELETE', headers: { Authorization: `Bearer ${stack.sim.demoToken}` } });
  expect(response.status).toBe(204);
}

function deletionsInSimulator(): SimItem[] {
  return mailbox.itemsIn(mailbox.folderByIdOrName('recoverableitemsdeletions')!.id);
}

async function snapshotEntries(report: RunReport): Promise<ManifestEntry[]> {
  const result = report.mailboxes[0]!;
  const record = await stack.vault.readJson<SnapshotRecord>(
    layout.snapshotRecord(result.mailboxId, result.snapshotId!),
  );
  const entries: ManifestEntry[] = [];
  for await (const entry of stack.vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob)) entries.push(entry);
  return entries;
}

beforeAll(async () => {
  stack = await startStack(
    { mailboxes: [{ upn: UPN, items: 20, sizes: [2_000, 20_000] }] },
    { settings: { MAILBOX_VAULT_BACKUP_RECOVERABLE_ITEMS: 'true' } },
  );
  mailbox = stack.sim.tenant.mailbox(UPN);
  for (const item of [...mailbox.items.values()].slice(0, 3)) await softDelete(item);
});
afterAll(() => stack.close());

describe('Recoverable Items', () => {
  it('are backed up as Recoverable Items/Deletions, byte for byte, and follow items deleted later', async () => {
    const first = (await runBackup(stack)).status.report as RunReport;
    expect(first.status).toBe('Completed');
    const [later] = [...mailbox.items.values()].filter((i) => !deletionsInSimulator().includes(i));
    await softDelete(later!);
    const report = (await runBackup(stack)).status.report as RunReport;
    expect(report.status).toBe('Completed');
    const entries = await snapshotEntries(report);
    const folder = entries.find((e) => e.kind === 'folder' && e.path.join('/') === 'Recoverable Items/Deletions');
    expect(folder).toBeDefined();
    const stored = entries.filter((e) => e.kind === 'item' && e.folderId === folder!.id);
    const deleted = deletionsInSimulator();
    expect(deleted).toHaveLength(4);
    expect(stored.map((e) => e.id).sort()).toEqual(deleted.map((i) => i.id).sort());
    for (const item of deleted)
      expect(stored.find((e) => e.id === item.id)).toMatchObject({ sha256: stack.sim.tenant.digest(item) });
    // Each item once: the one deleted after the first backup left its old folder.
    expect(entries.filter((e) => e.kind === 'item' && e.id === later!.id)).toHaveLength(1);
  });

  it('are browsable', async () => {
    const root = await stack.api('GET', `/api/snapshots/latest/items?mailbox=${UPN}`);
    expect(root.body.folders.map((f: { name: string }) => f.name)).toContain('Recoverable Items');
    const page = await stack.api(
      'GET',
      `/api/snapshots/latest/items?mailbox=${UPN}&folder=Recoverable Items/Deletions`,
    );
    expect(page.status).toBe(200);
    expect(page.body.items.map((i: { id: string }) => i.id).sort()).toEqual(
      deletionsInSimulator()
        .map((i) => i.id)
        .sort(),
    );
  });

  it('are restored into a normal folder, byte-identical', async () => {
    const { status } = await runRestore(stack, { sourceMailbox: UPN, folders: ['Recoverable Items/Deletions'] });
    const restore = status.report as RestoreReport;
    expect(restore.status).toBe('Completed');
    const deleted = deletionsInSimulator();
    expect(restore.counts).toMatchObject({ imported: deleted.length, failed: 0 });
    const into = `${restore.destination.root}/Recoverable Items/Deletions`;
    const restored = [...mailbox.items.values()].filter((i) => mailbox.folderPath(i.folderId) === into);
    // A normal folder: in the mailbox's own folder tree, where folder listings and delta show it.
    expect(restored.every((i) => mailbox.folders.has(i.folderId))).toBe(true);
    for (const item of deleted) {
      const copy = restored.find((i) => i.spec.searchKey.equals(item.spec.searchKey));
      expect(copy?.importedDigest).toBe(stack.sim.tenant.digest(item));
    }
  });
});
