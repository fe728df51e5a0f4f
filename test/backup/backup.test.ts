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
      const folderPaths = entries
        .filter((e) => e.kind === 'folder')
        .map((f) => (f as { path: string[] }).path.join(' > '));
      expect(folderPaths).toEqual(
        expect.arrayContaining(['Inbox > Отчёты', 'Inbox > a/b slash? no: colon', 'Inbox > Projekte Über > Größe']),
      );
    }
  });
});

describe('the next backup', () => {
  it('exports only what changed, and the new snapshot shows additions, edits, moves and deletions', async () => {
    const first = await runBackup(stack);
    const firstReport = first.status.report as RunReport;
    const tenant = stack.sim.tenant;
    const adele = tenant.mailbox('adele@contoso.example');
    const support = tenant.mailbox('support@contoso.example');
    const before = new Map(firstReport.mailboxes.map((m) => [m.mailboxId, m.snapshotId!]));

    const ids = [...adele.items.keys()];
    const added = tenant.addItem(adele, 'inbox', { subject: 'New since last night' });
    const edited = tenant.changeItem(adele, ids[0]!);
    const moved = tenant.moveItem(adele, ids[1]!, 'archive');
    tenant.deleteItem(adele, ids[2]!);
    stack.sim.throttle.resetCounters();

    const second = await runBackup(stack);
    const report = second.status.report as RunReport;
    expect(report.status).toBe('Completed');
    const adeleResult = report.mailboxes.find((m) => m.upn === 'adele@contoso.example')!;
    expect(adeleResult.items).toMatchObject({ exported: 3, failed: 0, changed: 3, removed: 2 });
    // The simulator's own counters: three items exported for Adele, no export call at all for the unchanged mailbox.
    expect(stack.sim.throttle.countersFor(adele.id).exportedItems).toBe(3);
    expect(stack.sim.throttle.countersFor(support.id).exportCalls).toBe(0);

    const items = (await manifestOf(adele.id, adeleResult.snapshotId!)).filter(
      (e): e is ManifestItem => e.kind === 'item',
    );
    const byId = new Map(items.map((i) => [i.id, i]));
    expect([...byId.keys()].sort()).toEqual([...adele.items.keys()].sort());
    expect(byId.get(added.id)!.subject).toBe('New since last night');
    expect(byId.get(edited.id)!.changeKey).toBe(edited.changeKey);
    expect(byId.get(edited.id)!.sha256).toBe(tenant.digest(edited));
    expect(byId.get(moved.id)!.folderId).toBe(adele.folderByIdOrName('archive')!.id);
    expect(byId.has(ids[1]!)).toBe(false);
    expect(byId.has(ids[2]!)).toBe(false);

    // The previous snapshot is untouched: a point in time stays that point in time.
    const old = (await manifestOf(adele.id, before.get(adele.id)!)).filter((e): e is ManifestItem => e.kind === 'item');
    expect(old.some((i) => i.id === ids[2])).toBe(true);
    expect(old.some((i) => i.id === added.id)).toBe(false);

    // The unchanged mailbox still gets a complete snapshot of its own.
    const supportResult = report.mailboxes.find((m) => m.upn === 'support@contoso.example')!;
    expect(supportResult.snapshotId).not.toBe(before.get(support.id));
    expect(supportResult.items.inSnapshot).toBe(support.items.size);
  });
});

describe('the HTTP API', () => {
  it('backs up a named subset only', async () => {
    const { status } = await runBackup(stack, { mailboxes: ['support@contoso.example'] });
    expect((status.report as RunReport).mailboxes.map((m) => m.upn)).toEqual(['support@contoso.example']);
  });

  it('refuses bad input with a message naming the field, and starts nothing', async () => {
    const count = stack.app.host.listInstances().length;
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /not valid JSON/],
      [{ mailboxes: ['not-an-upn'] }, /mailboxes\.0: must be a user principal name/],
      [{ mailboxes: [] }, /mailboxes/],
      [{ mailbox: ['adele@contoso.example'] }, /unknown field\(s\) 'mailbox'/],
    ];
    for (const [body, message] of cases) {
      const response = await stack.api('POST', '/api/backups', body);
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body)).toMatch(message);
    }
    expect(stack.app.host.listInstances().length).toBe(count);
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString().replace(/[-:]|\.\d{3}/g, '');
    expect((await stack.api('GET', `/api/backups/backup-${hourAgo}`)).status).toBe(404);
    expect((await stack.api('GET', '/api/backups/backup-20261123T020000Z')).status).toBe(410);
    expect((await stack.api('GET', '/api/backups/..%2f..%2fsecrets')).status).toBe(400);
  });
});

describe('the schedule', () => {
  it('derives the run id from the scheduled time, so a second fire does not start a second run', async () => {
    const before = stack.app.host.listInstances().filter((i) => i.name === 'backupTenant').length;
    await stack.app.host.invokeTimer('scheduledBackup');
    await stack.app.host.invokeTimer('scheduledBackup');
    const runs = stack.app.host.listInstances().filter((i) => i.name === 'backupTenant');
    expect(runs.length).toBe(before + 1);
    const scheduled = runs.find((r) => /^backup-\d{8}T020000Z$/.test(r.instanceId))!;
    expect(scheduled).toBeDefined();
    await stack.app.host.waitForCompletion(scheduled.instanceId);
    expect((await stack.app.host.waitForCompletion(scheduled.instanceId)).runtimeStatus).toBe('Completed');
  });
});
