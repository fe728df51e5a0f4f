import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreReport } from '../../shared/restore/types.js';
import type { RunReport } from '../../shared/backup/types.js';
import type { SimItem, SimMailbox } from '../../local/simulator/index.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
const SOURCE = 'nora@contoso.example';
const TARGET = 'restore-target@contoso.example';
let firstSnapshot: string;

/** Items of a mailbox under a folder path prefix, by search key, with their content digest. */
function itemsUnder(mailbox: SimMailbox, prefix: string): Map<string, { item: SimItem; path: string }> {
  const out = new Map<string, { item: SimItem; path: string }>();
  for (const item of mailbox.items.values()) {
    const path = mailbox.folderPath(item.folderId);
    if (path === prefix || path.startsWith(`${prefix}/`) || prefix === '')
      out.set(item.spec.searchKey.toString('base64'), { item, path });
  }
  return out;
}

beforeAll(async () => {
  stack = await startStack({
    mailboxes: [
      { upn: SOURCE, items: 60, sizes: [2_000, 60_000], largeItems: [2_500_000] },
      { upn: TARGET, items: 5 },
    ],
  });
  const { status } = await runBackup(stack);
  firstSnapshot = (status.report as RunReport).mailboxes.find((m) => m.upn === SOURCE)!.snapshotId!;
});
afterAll(() => stack.close());

describe('restore into another mailbox', () => {
  it('brings every item, byte-identical, under a new folder tree', async () => {
    const { status } = await runRestore(stack, { sourceMailbox: SOURCE, targetMailbox: TARGET });
    const report = status.report as RestoreReport;
    expect(status.status).toBe('Completed');
    const source = stack.sim.tenant.mailbox(SOURCE);
    const target = stack.sim.tenant.mailbox(TARGET);
    expect(report.counts).toMatchObject({
      selected: source.items.size,
      imported: source.items.size,
      failed: 0,
      skippedAlreadyPresent: 0,
    });
    expect(report.destination.root).toMatch(/^Restored \d{4}-\d{2}-\d{2} \d{2}\.\d{2}\.\d{2}$/);
    const restored = itemsUnder(target, report.destination.root);
    expect(restored.size).toBe(source.items.size);
    for (const item of source.items.values()) {
      const copy = restored.get(item.spec.searchKey.toString('base64'));
      expect(copy, item.spec.subject).toBeDefined();
      // The simulator recorded the digest of the stream it was sent: the very bytes it exported.
      expect(copy!.item.importedDigest).toBe(stack.sim.tenant.digest(item));
      expect(copy!.path).toBe(`${report.destination.root}/${source.folderPath(item.folderId)}`);
    }
  });

  it('imports nothing new when run again with skip, and again on purpose with copy', async () => {
    const target = stack.sim.tenant.mailbox(TARGET);
    const before = target.items.size;
    const again = await runRestore(stack, { sourceMailbox: SOURCE, targetMailbox: TARGET });
    expect((again.status.report as RestoreReport).counts).toMatchObject({
      imported: 0,
      skippedAlreadyPresent: stack.sim.tenant.mailbox(SOURCE).items.size,
    });
    expect(target.items.size).toBe(before);
    const copy = await runRestore(stack, {
      sourceMailbox: SOURCE,
      targetMailbox: TARGET,
      collisions: 'copy',
      folders: ['Inbox/Отчёты'],
    });
    const copied = (copy.status.report as RestoreReport).counts.imported;
    expect(copied).toBeGreaterThan(0);
    expect(target.items.size).toBe(before + copied);
  });
});

describe('selections', () => {
  it('restores one folder (and below) into a named folder', async () => {
    const { status } = await runRestore(stack, {
      sourceMailbox: SOURCE,
      targetMailbox: TARGET,
      folders: ['Inbox/Projekte Über'],
      destination: 'folder',
      folderPath: 'Recovered/Nora',
      collisions: 'copy',
    });
    const report = status.report as RestoreReport;
    const source = stack.sim.tenant.mailbox(SOURCE);
    const expected = [...source.items.values()].filter((i) =>
      source.folderPath(i.folderId).startsWith('Inbox/Projekte Über'),
    );
    expect(report.counts.imported).toBe(expected.length);
    const target = stack.sim.tenant.mailbox(TARGET);
    const under = itemsUnder(target, 'Recovered/Nora');
    for (const item of expected)
      expect(under.get(item.spec.searchKey.toString('base64'))!.path).toBe(
        `Recovered/Nora/${source.folderPath(item.folderId)}`,
      );
  });

  it('restores a date range', async () => {
    const source = stack.sim.tenant.mailbox(SOURCE);
    const dates = [...source.items.values()].map((i) => i.createdDateTime).sort();
    const from = dates[Math.floor(dates.length / 3)]!;
    const to = dates[Math.floor((2 * dates.length) / 3)]!;
    const expected = [...source.items.values()].filter((i) => i.createdDateTime >= from && i.createdDateTime < to);
    const { status } = await runRestore(stack, {
      sourceMailbox: SOURCE,
      targetMailbox: TARGET,
      createdFrom: from,
      createdTo: to,
      collisions: 'copy',
    });
    expect((status.report as RestoreReport).counts.imported).toBe(expected.length);
  });
});

describe('in place, and from an older snapshot', () => {
  it('puts deleted items back into their original folders, and only those', async () => {
    const tenant = stack.sim.tenant;
    const source = tenant.mailbox(SOURCE);
    const victims = [...source.items.values()].slice(0, 5);
    const victimKeys = new Set(victims.map((v) => v.spec.searchKey.toString('base64')));
    const paths = new Map(victims.map((v) => [v.spec.searchKey.toString('base64'), source.folderPath(v.folderId)]));
    for (const v of victims) tenant.deleteItem(source, v.id);
    const changed = tenant.changeItem(source, [...source.items.values()][10]!.id, {
      subject: 'Edited after the first backup',
    });
    await runBackup(stack);
    const before = source.items.size;

    // From the first snapshot (taken before the deletions and the edit), in place, skipping what is there.
    const { status } = await runRestore(stack, {
      sourceMailbox: SOURCE,
      snapshot: firstSnapshot,
      destination: 'original',
    });
    const report = status.report as RestoreReport;
    expect(report.source.snapshotId).toBe(firstSnapshot);
    // The edited item keeps its search key, so it counts as present and is not duplicated.
    expect(report.counts.imported).toBe(5);
    expect(source.items.size).toBe(before + 5);
    const back = [...source.items.values()].filter((i) => victimKeys.has(i.spec.searchKey.toString('base64')));
    expect(back).toHaveLength(5);
    for (const item of back)
      expect(source.folderPath(item.folderId)).toBe(paths.get(item.spec.searchKey.toString('base64')));
    expect([...source.items.values()].filter((i) => i.spec.searchKey.equals(changed.spec.searchKey))).toHaveLength(1);
  });

  it('selects the newest snapshot completed at or before an "as of" time, not merely started', async () => {
    const listed = await stack.api('GET', `/api/snapshots?mailbox=${SOURCE}`);
    expect(listed.status).toBe(200);
    const snapshots = listed.body.snapshots as Array<{ id: string; takenAt: string; committedAt: string }>;
    expect(snapshots.length).toBeGreaterThanOrEqual(2);
    const [oldest, next] = [snapshots.at(-1)!, snapshots.at(-2)!];
    const justBefore = (time: string) => new Date(Date.parse(time) - 1).toISOString();
    const asOf = async (time: string) =>
      stack.api('POST', '/api/restores/preview', { sourceMailbox: SOURCE, targetMailbox: TARGET, asOf: time });
    // Started but not yet committed at that time: not the snapshot of that time.
    expect((await asOf(next.takenAt)).body).toMatchObject({ source: { snapshotId: oldest.id } });
    expect((await asOf(justBefore(next.committedAt))).body).toMatchObject({ source: { snapshotId: oldest.id } });
    expect((await asOf(next.committedAt)).body).toMatchObject({ source: { snapshotId: next.id } });
    const none = await asOf(justBefore(oldest.committedAt));
    expect(none.status).toBe(404);
    expect(JSON.stringify(none.body)).toMatch(/no snapshot .* was completed at or before/);

    const started = await stack.api('POST', '/api/restores', {
      sourceMailbox: SOURCE,
      targetMailbox: TARGET,
      asOf: oldest.committedAt,
      itemIds: ['unknown-item-id'],
    });
    expect(started.status).toBe(422);
    const ok = await stack.api('POST', '/api/restores', {
      sourceMailbox: SOURCE,
      targetMailbox: TARGET,
      asOf: oldest.committedAt,
      folders: ['Suppliers'],
      collisions: 'copy',
    });
    expect(ok.status).toBe(202);
    expect(ok.body.snapshotId).toBe(oldest.id);
    await stack.app.host.waitForCompletion(ok.body.id);
  });
});

describe('browsing', () => {
  it('lists a folder of a snapshot with sub-folders, item metadata and paging', async () => {
    const first = await stack.api('GET', `/api/snapshots/${firstSnapshot}/items?mailbox=${SOURCE}&folder=Inbox&top=5`);
    expect(first.status).toBe(200);
    expect(first.body.folders.map((f: { name: string }) => f.name)).toEqual(
      expect.arrayContaining(['Отчёты', 'a/b slash? no: colon']),
    );
    expect(first.body.items).toHaveLength(5);
    expect(first.body.items[0]).toMatchObject({
      id: expect.any(String),
      subject: expect.any(String),
      sender: expect.stringMatching(/@/),
      receivedDateTime: expect.any(String),
    });
    const next = await fetch(first.body.nextLink);
    const page = (await next.json()) as { items: Array<{ id: string }> };
    expect(page.items[0]!.id).not.toBe(first.body.items[0].id);
    expect((await stack.api('GET', `/api/snapshots/${firstSnapshot}/items?mailbox=${SOURCE}&folder=Nope`)).status).toBe(
      404,
    );
    expect((await stack.api('GET', `/api/snapshots/20200101T000000Z-00000000/items?mailbox=${SOURCE}`)).status).toBe(
      404,
    );
    expect((await stack.api('GET', `/api/snapshots?mailbox=not-a-mailbox`)).status).toBe(400);
  });
});

describe('bad input', () => {
  it('answers 4xx naming each problem, and starts nothing', async () => {
    const count = stack.app.host.listInstances().length;
    const cases: Array<[unknown, number, RegExp]> = [
      ['{oops', 400, /not valid JSON/],
      [{}, 400, /sourceMailbox/],
      [{ sourceMailbox: SOURCE, surprise: true }, 400, /unknown field\(s\) 'surprise'/],
      [{ sourceMailbox: 'not a mailbox' }, 400, /sourceMailbox: must be a user principal name/],
      [
        { sourceMailbox: 'ghost@contoso.example' },
        400,
        /sourceMailbox: 'ghost@contoso\.example' has no Exchange Online mailbox/,
      ],
      [{ sourceMailbox: SOURCE, targetMailbox: 'ghost@contoso.example' }, 400, /targetMailbox/],
      [{ sourceMailbox: SOURCE, snapshot: '20200101T000000Z-00000000' }, 404, /does not exist/],
      [{ sourceMailbox: SOURCE, snapshot: 'yesterday' }, 400, /snapshot: must be 'latest' or a snapshot id/],
      [{ sourceMailbox: SOURCE, asOf: '2001-01-01T00:00:00Z' }, 404, /no snapshot .* completed at or before/],
      [{ sourceMailbox: SOURCE, folders: [] }, 400, /folders: must name at least one folder/],
      [{ sourceMailbox: SOURCE, folders: ['No/Such/Folder'] }, 422, /No\/Such\/Folder/],
      [{ sourceMailbox: SOURCE, createdFrom: '2030-01-01', createdTo: '2031-01-01' }, 422, /selection is empty/],
      [
        { sourceMailbox: SOURCE, createdFrom: '2025-02-01', createdTo: '2025-01-01' },
        400,
        /createdTo: must be after createdFrom/,
      ],
      [{ sourceMailbox: SOURCE, destination: 'folder' }, 400, /folderPath: is required/],
      [{ sourceMailbox: SOURCE, destination: 'elsewhere' }, 400, /destination/],
      [{ sourceMailbox: SOURCE, collisions: 'replace' }, 400, /collisions/],
      [{ sourceMailbox: SOURCE, itemTypes: ['Note'] }, 400, /itemTypes\.0: must be a message class/],
      [
        JSON.stringify({
          sourceMailbox: SOURCE,
          itemIds: Array.from({ length: 60_000 }, (_, i) => `item-${i}-${'x'.repeat(10)}`),
        }),
        413,
        /larger than/,
      ],
    ];
    for (const [body, status, message] of cases) {
      const response = await stack.api('POST', '/api/restores', body);
      expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(JSON.stringify(response.body)).toMatch(message);
    }
    expect(stack.app.host.listInstances().length).toBe(count);
    // Never held: 404 while the id is younger than a week, 410 after (it may have gone with the retention policy).
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString().replace(/[-:]|\.\d{3}/g, '');
    expect((await stack.api('GET', `/api/restores/restore-${hourAgo}-00000000`)).status).toBe(404);
    expect((await stack.api('GET', '/api/restores/restore-20260101T000000Z-00000000')).status).toBe(410);
    expect((await stack.api('GET', '/api/restores/whatever')).status).toBe(400);
  });
});
