import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { ManifestEntry, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { layout } from '../../shared/vault/layout.js';
import type { RunReport } from '../../shared/backup/types.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

let stack: Stack;

async function manifestOf(mailboxId: string, snapshotId: string): Promise<ManifestEntry[]> {
  const record = await stack.vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, snapshotId));
  const entries: ManifestEntry[] = [];
  for await (const entry of stack.vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob)) entries.push(entry);
  return entries;
}

async function blobSha(blob: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await stack.vault.openItemVersion(blob)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

beforeAll(async () => {
  stack = await startStack({
    mailboxes: [
      { upn: 'adele@contoso.example', items: 40, largeItems: [3_000_000] },
      { upn: 'support@contoso.example', kind: 'shared', items: 25 },
    ],
    usersWithoutMailbox: ['printer@contoso.example'],
  });
});
afterAll(() => stack.close());

describe('a first backup', () => {
  it('stores every item byte for byte and a complete manifest per mailbox', async () => {
    const { status } = await runBackup(stack);
    expect(status.runtimeStatus).toBe('Completed');
    const report = status.report as RunReport;
    expect(report.status).toBe('Completed');
    expect(report.warnings).toEqual([expect.stringMatching(/printer@contoso\.example has no Exchange Online mailbox/)]);
    expect(report.mailboxes).toHaveLength(2);
    for (const mailboxResult of report.mailboxes) {
      const simMailbox = stack.sim.tenant.mailbox(mailboxResult.mailboxId);
      const entries = await manifestOf(mailboxResult.mailboxId, mailboxResult.snapshotId!);
      const items = entries.filter((e): e is ManifestItem => e.kind === 'item');
      expect(items.map((i) => i.id).sort()).toEqual([...simMailbox.items.keys()].sort());
      for (const item of items) {
        const simItem = simMailbox.items.get(item.id)!;
        expect(item.sha256).toBe(stack.sim.tenant.digest(simItem));
        expect(await blobSha(item.blob)).toBe(item.sha256);
        expect(item.changeKey).toBe(simItem.changeKey);
        expect(item.searchKey).toBe(simItem.spec.searchKey.toString('base64'));
        expect(item.subject).toBe(simItem.spec.subject);
      }
      const folderPaths = entries.filter((e) => e.kind === 'folder').map((f) => (f as { path: string[] }).path.join(' > '));
      expect(folderPaths).toEqual(expect.arrayContaining(['Inbox > Отчёты', 'Inbox > a/b slash? no: colon', 'Inbox > Projekte Über > Größe']));
    }
  });
});
