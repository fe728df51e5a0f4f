import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator, SimulatorOptions } from '../../local/simulator/index.js';
import type { MailboxRunResult, RunReport } from '../../shared/backup/types.js';
import { layout } from '../../shared/vault/layout.js';
import type { ManifestEntry, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { collect } from '../support/graph.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * Item delta as Graph documents it: no `$expand`. The backup still stores every item's subject, sender, received
 * time and search key (restores match on it), read where Graph documents `$expand`, and says what it could not.
 */
const upn = 'ines@contoso.example';

async function snapshotItems(stack: Stack, result: MailboxRunResult): Promise<ManifestItem[]> {
  const record = await stack.vault.readJson<SnapshotRecord>(
    layout.snapshotRecord(result.mailboxId, result.snapshotId!),
  );
  const entries = await collect(stack.vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob));
  return entries.filter((e): e is ManifestItem => e.kind === 'item');
}

/** Every item of the snapshot carries the properties the simulator's item has. */
function expectFullMetadata(sim: Simulator, items: ManifestItem[]): void {
  const mailbox = sim.tenant.mailbox(upn);
  expect(items.length).toBe(mailbox.items.size);
  for (const item of items) {
    const { spec } = mailbox.items.get(item.id)!;
    expect(item.searchKey).toBe(spec.searchKey.toString('base64'));
    expect(item.subject).toBe(spec.subject);
    expect(item.sender).toBe(spec.senderEmail);
    expect(item.receivedDateTime).toBe(spec.receivedDateTime);
  }
}

function requestsOf(sim: Simulator, operation: string): number {
  return sim.throttle.countersFor(sim.tenant.mailbox(upn).id).requests[operation] ?? 0;
}

async function startWith(simulator: SimulatorOptions, warnings: string[] = []): Promise<Stack> {
  return startStack(
    { mailboxes: [{ upn, items: 60 }] },
    {
      simulator,
      log: (level, _name, ...args) => {
        if (level === 'warn' || level === 'warning') warnings.push(args.map(String).join(' '));
      },
    },
  );
}

describe('item delta that refuses $expand (the strict default)', () => {
  let stack: Stack;
  const warnings: string[] = [];
  beforeAll(async () => {
    stack = await startWith({}, warnings);
  });
  afterAll(() => stack.close());

  it('takes a first backup’s properties from one listing per folder, and says delta refused them', async () => {
    expect(stack.sim.options.deltaExpand).toBe('reject');
    const report = (await runBackup(stack)).status.report as RunReport;
    expect(report.status).toBe('Completed');
    const [result] = report.mailboxes;
    expect(result!.itemsWithoutSearchKey).toEqual([]);
    expectFullMetadata(stack.sim, await snapshotItems(stack, result!));
    expect(requestsOf(stack.sim, 'getItem')).toBe(0);
    expect(warnings.some((w) => /delta gave no subject, sender or search key for 60 item/.test(w))).toBe(true);
  });

  it('reads a night’s changed items from each changed folder’s listing of what changed since the last run', async () => {
    const { tenant } = stack.sim;
    const mailbox = tenant.mailbox(upn);
    const inbox = mailbox.folderByIdOrName('inbox')!;
    const before = { getItem: requestsOf(stack.sim, 'getItem'), listItems: requestsOf(stack.sim, 'listItems') };
    for (const item of mailbox.itemsIn(inbox.id).slice(0, 3)) tenant.changeItem(mailbox, item.id);
    for (let i = 0; i < 22; i++) tenant.addItem(mailbox, 'sentitems', { createdDateTime: new Date().toISOString() });

    const report = (await runBackup(stack)).status.report as RunReport;
    expect(report.status).toBe('Completed');
    const [result] = report.mailboxes;
    expect(result!.items.exported).toBe(25);
    expectFullMetadata(stack.sim, await snapshotItems(stack, result!));
    // One filtered listing for each of the two folders, no item read one by one.
    expect(requestsOf(stack.sim, 'listItems') - before.listItems).toBe(2);
    expect(requestsOf(stack.sim, 'getItem') - before.getItem).toBe(0);
  });

  it('reads items the filtered listing does not return (stamped before the last run) by $batch, 20 to a call', async () => {
    const { tenant } = stack.sim;
    const mailbox = tenant.mailbox(upn);
    const before = requestsOf(stack.sim, 'getItem');
    const batchesBefore = stack.sim.throttle.countersFor(mailbox.id).batchCalls;
    // Items keeping an old time stamp, as an item restored from an old copy might.
    for (let i = 0; i < 23; i++) tenant.addItem(mailbox, 'deleteditems', { createdDateTime: '2021-03-04T05:06:07Z' });

    const report = (await runBackup(stack)).status.report as RunReport;
    expect(report.status).toBe('Completed');
    expectFullMetadata(stack.sim, await snapshotItems(stack, report.mailboxes[0]!));
    expect(requestsOf(stack.sim, 'getItem') - before).toBe(23);
    expect(stack.sim.throttle.countersFor(mailbox.id).batchCalls - batchesBefore).toBe(2);
  });

  it('names the folder whose items are left without a search key, with the reason', async () => {
    const { tenant } = stack.sim;
    const mailbox = tenant.mailbox(upn);
    for (let i = 0; i < 2; i++) tenant.addItem(mailbox, 'drafts');
    stack.sim.script({ operation: 'getItem', fault: 'http503', times: 1000, mailbox: upn });
    try {
      const report = (await runBackup(stack)).status.report as RunReport;
      const [result] = report.mailboxes;
      // Stored all the same: the search key only helps restores match what a target already holds.
      expect(result!.items.exported).toBe(2);
      expect(result!.itemsWithoutSearchKey).toEqual([
        { folderPath: 'Drafts', items: 2, reason: expect.stringMatching(/search keys could not be read/) },
      ]);
      // And in the log, as it happened.
      expect(warnings).toContainEqual(
        expect.stringMatching(
          /folder 'Drafts': 2 item\(s\) left without a search key: .*search keys could not be read/,
        ),
      );
    } finally {
      stack.sim.throttle.scripted.length = 0;
    }
  });
});

describe('item delta that ignores $expand', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startWith({ deltaExpand: 'ignore' });
  });
  afterAll(() => stack.close());

  it('still stores every item’s properties', async () => {
    const report = (await runBackup(stack)).status.report as RunReport;
    expect(report.status).toBe('Completed');
    expectFullMetadata(stack.sim, await snapshotItems(stack, report.mailboxes[0]!));
  });
});

describe('item delta that honours $expand (lenient)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startWith({ deltaExpand: 'honour' });
  });
  afterAll(() => stack.close());

  it('takes the properties from delta, with no listing or GET for them', async () => {
    const report = (await runBackup(stack)).status.report as RunReport;
    expectFullMetadata(stack.sim, await snapshotItems(stack, report.mailboxes[0]!));
    expect(requestsOf(stack.sim, 'getItem')).toBe(0);
    expect(requestsOf(stack.sim, 'listItems')).toBe(0);
  });
});
