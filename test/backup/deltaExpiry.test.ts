import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { ChangeRecord, RunReport } from '../../shared/backup/types.js';
import type { DeltaState, ManifestEntry, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { layout } from '../../shared/vault/layout.js';
import { clientFor, collect } from '../support/graph.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * A backup against the strict simulator: stored delta links expire (Exchange keeps a few sync-state generations
 * per folder) and a folder's delta can be refused for quota. Either way the folder is backed up completely.
 */
const upn = 'omar@contoso.example';
let stack: Stack;
const warnings: string[] = [];

beforeAll(async () => {
  stack = await startStack(
    { mailboxes: [{ upn, items: 40 }] },
    {
      log: (level, _name, ...args) => {
        if (level === 'warn' || level === 'warning') warnings.push(args.map(String).join(' '));
      },
    },
  );
});
afterAll(() => stack.close());

async function sha256Of(blob: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await stack.vault.openItemVersion(blob)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The run's one mailbox result: completed, no failed folder, and a snapshot equal to the mailbox byte for byte. */
async function expectCompleteSnapshot(report: RunReport): Promise<void> {
  expect(report.status).toBe('Completed');
  const [result] = report.mailboxes;
  expect(result!.failedFolders).toEqual([]);
  const mailbox = stack.sim.tenant.mailbox(upn);
  const record = await stack.vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailbox.id, result!.snapshotId!));
  const items = (await collect(stack.vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob))).filter(
    (e): e is ManifestItem => e.kind === 'item',
  );
  expect(items.map((i) => i.id).sort()).toEqual([...mailbox.items.keys()].sort());
  for (const item of items) {
    const simItem = mailbox.items.get(item.id)!;
    expect(item.folderId).toBe(simItem.folderId);
    expect(item.sha256).toBe(stack.sim.tenant.digest(simItem));
    expect(await sha256Of(item.blob)).toBe(item.sha256);
  }
}

async function changesOf(runId: string): Promise<ChangeRecord[]> {
  const mailboxId = stack.sim.tenant.mailbox(upn).id;
  return collect(stack.vault.readNdjsonGz<ChangeRecord>(layout.runChanges(runId, mailboxId)));
}

describe('a stored delta link that expired', () => {
  it('makes the next backup resync that folder in full: complete, byte-identical, no failed folder', async () => {
    const tenant = stack.sim.tenant;
    const mailbox = tenant.mailbox(upn);
    const inbox = mailbox.folderByIdOrName('inbox')!;
    for (let i = 0; i < 3; i++) tenant.addItem(mailbox, 'inbox');
    await expectCompleteSnapshot((await runBackup(stack)).status.report as RunReport);

    // Changes the stored link must not miss, then three newer sync states of the inbox (another client's
    // rounds), so Exchange no longer keeps the one the vault stored.
    const [gone, edited] = mailbox.itemsIn(inbox.id);
    tenant.deleteItem(mailbox, gone!.id);
    tenant.changeItem(mailbox, edited!.id);
    const added = tenant.addItem(mailbox, 'inbox', { subject: 'After the link expired' });
    const { client } = clientFor(stack.sim);
    for (let i = 0; i < 3; i++) await collect(client.listItemChanges(mailbox.id, inbox.id));
    const stored = await stack.vault.readJson<DeltaState>(layout.deltaState(mailbox.id));
    const refused = await fetch(stored!.itemDeltaLinks[inbox.id]!, {
      headers: { Authorization: `Bearer ${stack.sim.demoToken}` },
    });
    expect(refused.status).toBe(410);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('SyncStateNotFound');

    const { id, status } = await runBackup(stack);
    const report = status.report as RunReport;
    await expectCompleteSnapshot(report);
    expect(report.mailboxes[0]!.items).toMatchObject({ failed: 0, exported: 2 }); // the edit and the new item
    const changes = await changesOf(id);
    expect(changes).toContainEqual({ kind: 'resync', folderId: inbox.id });
    expect(changes.some((r) => r.kind === 'upsert' && r.item.id === added.id)).toBe(true);
  });
});

describe('a folder whose delta is over quota (403 ErrorQuotaExceeded)', () => {
  it('is backed up completely through its plain item listing, named in the report and the log', async () => {
    const tenant = stack.sim.tenant;
    const mailbox = tenant.mailbox(upn);
    const archive = mailbox.folderByIdOrName('archive')!;
    for (let i = 0; i < 4; i++) tenant.addItem(mailbox, 'archive');
    const [moved] = mailbox.itemsIn(mailbox.folderByIdOrName('inbox')!.id);
    tenant.moveItem(mailbox, moved!.id, 'archive');
    stack.sim.exceedDeltaQuota(upn, 'archive');
    stack.sim.throttle.resetCounters();
    try {
      const { id, status } = await runBackup(stack);
      const report = status.report as RunReport;
      await expectCompleteSnapshot(report);
      expect(report.mailboxes[0]!.enumeratedFolders).toEqual([
        { folderPath: 'Archive', reason: expect.stringMatching(/ErrorQuotaExceeded.*listed in full/) },
      ]);
      expect(stack.sim.throttle.countersFor(mailbox.id).requests.listItems).toBeGreaterThan(0);
      expect(await changesOf(id)).toContainEqual({ kind: 'resync', folderId: archive.id });
      expect(warnings.some((w) => /ErrorQuotaExceeded/.test(w) && w.includes('Archive'))).toBe(true);

      // Every night the same, while the quota is exceeded: never a failed folder.
      tenant.deleteItem(mailbox, mailbox.itemsIn(archive.id)[0]!.id);
      await expectCompleteSnapshot((await runBackup(stack)).status.report as RunReport);
    } finally {
      stack.sim.exceedDeltaQuota(upn, 'archive', false);
    }
    // Once the quota allows delta again, the folder is back on delta rounds.
    const after = (await runBackup(stack)).status.report as RunReport;
    await expectCompleteSnapshot(after);
    expect(after.mailboxes[0]!.enumeratedFolders).toEqual([]);
  });

  it('is backed up completely when the whole mailbox is over its sync quota, its folder tree listed too', async () => {
    const tenant = stack.sim.tenant;
    const mailbox = tenant.mailbox(upn);
    tenant.addItem(mailbox, 'inbox');
    stack.sim.exceedDeltaQuota(upn);
    try {
      const report = (await runBackup(stack)).status.report as RunReport;
      await expectCompleteSnapshot(report);
      const notes = report.mailboxes[0]!.enumeratedFolders!;
      expect(notes).toContainEqual({ folderPath: '', reason: expect.stringMatching(/folder tree was listed/) });
      expect(notes.length).toBeGreaterThan(1); // the tree, and each folder's items
    } finally {
      stack.sim.exceedDeltaQuota(upn, undefined, false);
    }
    const after = (await runBackup(stack)).status.report as RunReport;
    await expectCompleteSnapshot(after);
    expect(after.mailboxes[0]!.enumeratedFolders).toEqual([]);
  });
});
