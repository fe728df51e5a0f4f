import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import type { DirectoryEntry } from '../../shared/vault/mailboxDirectory.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

/**
 * The routes behind the portal, over HTTP through the local host: search, compare and what is missing, the restore
 * preview, the mailbox list and the dashboard, with their refusals.
 */

const UPN = 'adele@contoso.example';
const SUBJECT = 'Quarterly zeppelin maintenance plan';

let stack: Stack;
let first: string;
let second: string;

beforeAll(async () => {
  stack = await startStack({ mailboxes: [{ upn: UPN, items: 25 }] });
  const mailbox = stack.sim.tenant.mailbox(UPN);
  const planned = stack.sim.tenant.addItem(mailbox, 'inbox', { subject: SUBJECT, senderEmail: 'ops@contoso.example' });
  const { status: one } = await runBackup(stack);
  first = (one.report as RunReport).mailboxes[0]!.snapshotId!;
  stack.sim.tenant.deleteItem(mailbox, planned.id);
  const { status: two } = await runBackup(stack);
  second = (two.report as RunReport).mailboxes[0]!.snapshotId!;
});
afterAll(() => stack.close());

describe('GET /api/search', () => {
  it('finds an item deleted since in the snapshots that still hold it, but not in the newest', async () => {
    const newest = await stack.api('GET', `/api/search?mailbox=${UPN}&q=ZEPPELIN+plan`);
    expect(newest.status).toBe(200);
    expect(newest.body.hits).toEqual([]);
    const all = await stack.api('GET', `/api/search?mailbox=${UPN}&q=zeppelin&snapshot=all`);
    expect(all.body).toMatchObject({ snapshotsSearched: 2, more: false });
    expect(all.body.hits).toMatchObject([
      { snapshotId: first, folderPath: 'Inbox', subject: SUBJECT, sender: 'ops@contoso.example' },
    ]);
  });

  it('says what is wrong with a query', async () => {
    const none = await stack.api('GET', `/api/search?mailbox=${UPN}`);
    expect(none.status).toBe(400);
    expect(none.body.error.errors[0]).toMatch(/give at least one/);
    const bad = await stack.api('GET', `/api/search?mailbox=${UPN}&q=x&from=yesterday&top=0&snapshot=old`);
    expect(bad.body.error.errors).toEqual([
      expect.stringMatching(/^from: must be an ISO 8601 date/),
      expect.stringMatching(/^snapshot: must be 'latest', 'all' or a snapshot id/),
      expect.stringMatching(/^top: must be a whole number from 1 to 500/),
    ]);
    const missing = await stack.api('GET', `/api/search?mailbox=${UPN}&q=x&snapshot=20200101T000000Z-00000000`);
    expect(missing.status).toBe(404);
  });
});

describe('GET /api/compare', () => {
  it('counts the deleted item in its folder, lists it on demand, and hands its id for a restore', async () => {
    const base = `mailbox=${UPN}&from=${first}&to=${second}`;
    const summary = await stack.api('GET', `/api/compare?${base}`);
    expect(summary.body.totals).toEqual({ added: 0, changed: 0, deleted: 1, moved: 0 });
    expect(summary.body.folders).toEqual([{ folderPath: 'Inbox', added: 0, changed: 0, deleted: 1, moved: 0 }]);
    const items = await stack.api('GET', `/api/compare/items?${base}&kind=deleted&folder=Inbox`);
    expect(items.body).toMatchObject({ total: 1, items: [{ subject: SUBJECT, folderPath: 'Inbox' }] });
    const missing = await stack.api('GET', `/api/compare/missing?${base}`);
    expect(missing.body).toMatchObject({ snapshot: first, total: 1, truncated: false });
    const restored = await runRestore(stack, { sourceMailbox: UPN, snapshot: first, itemIds: missing.body.itemIds });
    expect(restored.status.report.counts).toMatchObject({ selected: 1, imported: 1, failed: 0 });
  });

  it('refuses a missing or unknown snapshot and an unknown kind', async () => {
    expect((await stack.api('GET', `/api/compare?mailbox=${UPN}&from=${first}`)).body.error.errors).toEqual([
      'to: a snapshot id such as 20261123T020000Z-1a2b3c4d is required',
    ]);
    const unknown = await stack.api('GET', `/api/compare?mailbox=${UPN}&from=${first}&to=20200101T000000Z-00000000`);
    expect(unknown.status).toBe(404);
    const kind = await stack.api('GET', `/api/compare/items?mailbox=${UPN}&from=${first}&to=${second}&kind=gone`);
    expect(kind.body.error.errors).toEqual(['kind: must be one of added, changed, deleted, moved']);
  });
});

describe('POST /api/restores/preview', () => {
  it('counts the items and bytes a restore would bring, and starts nothing', async () => {
    const preview = await stack.api('POST', '/api/restores/preview', { sourceMailbox: UPN, snapshot: first });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({
      items: 26,
      source: { snapshotId: first },
      destination: { mode: 'newFolder' },
    });
    expect(preview.body.bytes).toBeGreaterThan(0);
  });

  it('refuses as POST /api/restores refuses', async () => {
    const refused = await stack.api('POST', '/api/restores/preview', { sourceMailbox: UPN, folders: ['Nowhere'] });
    expect(refused.status).toBe(422);
    expect(refused.body.error.title).toBe('The selection names folders the snapshot does not have');
  });
});

describe('GET /api/dashboard and /api/mailboxes', () => {
  it('lists the runs with their counts, the mailbox with its newest snapshot, and the nights', async () => {
    const mailboxes = await stack.api('GET', '/api/mailboxes');
    expect(mailboxes.body.mailboxes).toMatchObject([
      { upn: UPN, snapshots: 2, last: { snapshotId: second }, stale: false },
    ]);
    const dashboard = await stack.api('GET', '/api/dashboard?weeks=1');
    expect(dashboard.status).toBe(200);
    expect(dashboard.body.runs.map((r: { kind: string }) => r.kind).sort()).toEqual(['backup', 'backup', 'restore']);
    expect(dashboard.body.runs.find((r: { kind: string }) => r.kind === 'restore')).toMatchObject({
      status: 'Completed',
      counts: { imported: 1 },
      failures: [],
    });
    expect(dashboard.body.nights).toHaveLength(8);
    const nights = dashboard.body.nights as Array<{ runs: number; itemsExported: number }>;
    expect(nights.reduce((sum, n) => sum + n.runs, 0)).toBe(2);
    expect(dashboard.body.unusualNights).toEqual([]);
    expect(dashboard.body.verification).toMatchObject({ maintenanceId: null, problems: [] });
    expect((await stack.api('GET', '/api/dashboard?weeks=0')).status).toBe(400);
  });
});

describe("the vault's directory behind the mailbox list", () => {
  it('is written by each commit, answers alone, and is written again by a prune when missing', async () => {
    const mailboxId = stack.sim.tenant.mailbox(UPN).id;
    const entryBlob = layout.byKey.directoryEntry(keyOf(mailboxId));
    const entry = await stack.vault.readJson<DirectoryEntry>(entryBlob);
    expect(entry).toMatchObject({ upn: UPN, snapshots: 2, newest: { snapshotId: second } });
    const fromDirectory = (await stack.api('GET', '/api/mailboxes')).body.mailboxes;

    // Without it (a vault from before the directory), the mailbox is looked up: the same list.
    await stack.vault.deleteBlob(entryBlob);
    expect((await stack.api('GET', '/api/mailboxes')).body.mailboxes).toEqual(fromDirectory);

    const maintenance = await stack.api('POST', '/api/maintenance', { prune: { dryRun: false } });
    await stack.app.host.waitForCompletion(maintenance.body.id as string);
    expect(await stack.vault.readJson<DirectoryEntry>(entryBlob)).toEqual(entry);
  });
});
