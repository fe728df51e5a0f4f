import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailboxRunResult, RunReport } from '../../shared/backup/types.js';
import { layout } from '../../shared/vault/layout.js';
import type { DeltaState, ManifestEntry, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { collect } from '../support/graph.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * The proof of coverage: every run compares, folder by folder, what its snapshot holds with the totalItemCount
 * Exchange reports. Here the simulator hides items from delta rounds, as a service bug might.
 */
const upn = 'lena@contoso.example';
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ mailboxes: [{ upn, items: 30 }] });
});
afterAll(() => stack.close());

async function snapshotItems(result: MailboxRunResult): Promise<ManifestItem[]> {
  const record = await stack.vault.readJson<SnapshotRecord>(
    layout.snapshotRecord(result.mailboxId, result.snapshotId!),
  );
  const entries = await collect(stack.vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob));
  return entries.filter((e): e is ManifestItem => e.kind === 'item');
}

describe('a folder whose delta rounds leave items out', () => {
  it('is named with its counts, its missed items are backed up from the listing, and the run is not Completed', async () => {
    const { tenant } = stack.sim;
    const mailbox = tenant.mailbox(upn);
    const inbox = mailbox.folderByIdOrName('inbox')!;
    for (let i = 0; i < 5; i++) tenant.addItem(mailbox, 'inbox');
    const hidden = stack.sim.hideFromDelta(upn, 'inbox', 3);

    const first = (await runBackup(stack)).status.report as RunReport;
    expect(first.status).toBe('CompletedWithErrors');
    const [result] = first.mailboxes;
    expect(result!.status).toBe('CompletedWithErrors');
    const inboxCoverage = result!.coverage!.folders.find((f) => f.folderPath === 'Inbox');
    expect(inboxCoverage).toMatchObject({
      exchangeCount: mailbox.itemsIn(inbox.id).length,
      inSnapshot: mailbox.itemsIn(inbox.id).length,
      missedByDelta: 3,
      unexplained: 0,
    });
    expect(inboxCoverage!.note).toMatch(/did not report 3 item/);
    expect(result!.coverage!.folders).toHaveLength(1);
    // Every folder but the root, which listings do not return and which holds no items.
    expect(result!.coverage!.foldersCompared).toBe(mailbox.folders.size - 1);

    // Nothing lost: the hidden items are in the snapshot, byte for byte, with their search keys.
    const items = await snapshotItems(result!);
    expect(items.map((i) => i.id).sort()).toEqual([...mailbox.items.keys()].sort());
    for (const id of hidden) {
      const item = items.find((i) => i.id === id)!;
      expect(item.sha256).toBe(tenant.digest(mailbox.items.get(id)!));
      expect(item.searchKey).toBe(mailbox.items.get(id)!.spec.searchKey.toString('base64'));
    }
    // Delta cannot be trusted there: the folder's next round is a full one.
    const state = await stack.vault.readJson<DeltaState>(layout.deltaState(mailbox.id));
    expect(state!.itemDeltaLinks[inbox.id]).toBeUndefined();
    expect(Object.keys(state!.itemDeltaLinks).length).toBe(mailbox.folders.size - 1);
    stack.sim.hideFromDelta(upn, 'inbox', 0);
  });

  it('counts items that arrived while the run read the folder as arrivals, not as a gap', async () => {
    const { tenant } = stack.sim;
    const mailbox = tenant.mailbox(upn);
    // An item delta has not reported yet but the folder's count and listing already show: it arrived just now.
    tenant.addItem(mailbox, 'sentitems', { createdDateTime: new Date().toISOString() });
    stack.sim.hideFromDelta(upn, 'sentitems', 1);

    const report = (await runBackup(stack)).status.report as RunReport;
    const [result] = report.mailboxes;
    expect(result!.status).toBe('Completed');
    const sent = result!.coverage!.folders.find((f) => f.folderPath === 'Sent Items');
    expect(sent).toMatchObject({ difference: 1, arrivedDuringRun: 1, missedByDelta: 0, unexplained: 0 });
    expect(sent!.note).toMatch(/arrived or changed during the run/);
    stack.sim.hideFromDelta(upn, 'sentitems', 0);
  });

  it('says so on a night when every folder matches', async () => {
    const report = (await runBackup(stack)).status.report as RunReport;
    const [result] = report.mailboxes;
    expect(result!.status).toBe('Completed');
    // The item that arrived last night is in tonight's round.
    expect(result!.items.exported).toBe(1);
    expect(result!.coverage).toMatchObject({
      folders: [],
      foldersCompared: stack.sim.tenant.mailbox(upn).folders.size - 1,
    });
  });
});
