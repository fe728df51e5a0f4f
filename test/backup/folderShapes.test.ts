import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import { layout } from '../../shared/vault/layout.js';
import type { ManifestEntry, ManifestFolder, SnapshotRecord } from '../../shared/vault/records.js';
import { collect } from '../support/graph.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

/**
 * Folder shapes as Graph gives them: folder delta entries with only an id and a name (the docs' example), and
 * listings without `wellKnownName` (the v1.0 metadata does not declare it). Backups still know every folder's
 * parent, class and well-known name, and a restore into a mailbox whose well-known folders have other names (another
 * language) still lands in them.
 */
const source = 'jonas@contoso.example';
const target = 'mathilde@contoso.example';
let stack: Stack;

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: source, items: 40 },
        { upn: target, items: 0 },
      ],
    },
    { simulator: { listWellKnownNames: false } },
  );
  const { tenant } = stack.sim;
  const nested = tenant.ensureFolderPath(tenant.mailbox(source), 'Inbox/Projects/2026');
  tenant.addItem(tenant.mailbox(source), nested.id);
  // The target's mailbox speaks German: its well-known folders carry other names.
  tenant.mailbox(target).folderByIdOrName('inbox')!.displayName = 'Posteingang';
  tenant.mailbox(target).folderByIdOrName('sentitems')!.displayName = 'Gesendete Elemente';
});
afterAll(() => stack.close());

async function manifestFolders(mailboxId: string, snapshotId: string): Promise<ManifestFolder[]> {
  const record = await stack.vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, snapshotId));
  const entries = await collect(stack.vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob));
  return entries.filter((e): e is ManifestFolder => e.kind === 'folder');
}

describe('folder delta entries without parent, class or well-known name', () => {
  it('are given their shape by the tree listing and well-known aliases', async () => {
    const mailbox = stack.sim.tenant.mailbox(source);
    const deltaPage = await fetch(
      `${stack.sim.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}/folders/delta`,
      { headers: { Authorization: `Bearer ${stack.sim.demoToken}` } },
    ).then((r) => r.json() as Promise<{ value: Array<Record<string, unknown>> }>);
    expect(Object.keys(deltaPage.value[0]!).sort()).toEqual(['@odata.type', 'displayName', 'id', 'wellKnownName']);

    const report = (await runBackup(stack, { mailboxes: [source] })).status.report as RunReport;
    expect(report.status).toBe('Completed');
    const folders = await manifestFolders(mailbox.id, report.mailboxes[0]!.snapshotId!);
    for (const simFolder of mailbox.folders.values()) {
      const folder = folders.find((f) => f.id === simFolder.id)!;
      const expectedPath = mailbox.folderPath(simFolder.id);
      expect(folder.path.join('/')).toBe(expectedPath);
      expect(folder.type).toBe(simFolder.type);
      expect(folder.wellKnownName ?? null).toBe(simFolder.wellKnownName ?? null);
    }
  });

  it('restores into the target’s own well-known folders, whatever their names, and builds the rest under them', async () => {
    const { status } = await runRestore(stack, {
      sourceMailbox: source,
      targetMailbox: target,
      destination: 'original',
    });
    expect(status.status).toBe('Completed');
    const mailbox = stack.sim.tenant.mailbox(target);
    const paths = new Set([...mailbox.items.values()].map((item) => mailbox.folderPath(item.folderId)));
    expect([...paths]).toContain('Posteingang');
    expect(paths).toContain('Posteingang/Projects/2026');
    expect([...paths].some((p) => p.startsWith('Inbox'))).toBe(false);
  });
});
