import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planMailbox } from '../../shared/backup/plan.js';
import { readPlannedBatches } from '../../shared/backup/plan.js';
import { IndexedNdjsonReader } from '../../shared/vault/indexedNdjson.js';
import type { ChangeRecord, PlanSummary } from '../../shared/backup/types.js';
import type { MailboxClient } from '../../shared/graph/index.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { layout } from '../../shared/vault/layout.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, collect, startSeededSimulator } from '../support/graph.js';
import { freshVault } from '../support/vault.js';

let sim: Simulator;
const upn = 'noor@contoso.example';
const settings = { maxItemsPerBatch: 20, batchReportedBytes: 50_000_000 };

beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn, items: 120 }] });
});
afterAll(() => sim.close());

async function plan(
  client: MailboxClient,
  vault: VaultStore,
  runId: string,
): Promise<{ summary: PlanSummary; planned: string[]; changes: ChangeRecord[] }> {
  const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
  const summary = await planMailbox(client, vault, settings, { runId, mailboxId, upn });
  const batches = await readPlannedBatches(
    new IndexedNdjsonReader(vault),
    runId,
    mailboxId,
    0,
    summary.batchCount,
    summary.planVersion,
  );
  const changes = await collect(vault.readNdjsonGz<ChangeRecord>(layout.runChanges(runId, mailboxId)));
  return { summary, planned: batches.flatMap((b) => b.items.map((i) => i.id)), changes };
}

const upsertsToExport = (changes: ChangeRecord[]) =>
  changes.flatMap((r) => (r.kind === 'upsert' && !r.known ? [r.item.id] : []));

describe('planning a mailbox of many folders', () => {
  it('reads several folders’ delta rounds at once, within Graph’s 4 requests in flight, and plans in folder order every time', async () => {
    const { client } = clientFor(sim, { pageSize: 10 });
    const { vault } = await freshVault('plan');
    const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
    sim.setLatency(30, 30); // answers overtake one another
    try {
      sim.throttle.resetCounters();
      const first = await plan(client, vault, 'plan-1');
      const counters = sim.throttle.counters.get(mailboxId)!;
      expect(counters.maxInFlight).toBeGreaterThan(1);
      expect(counters.maxInFlight).toBeLessThanOrEqual(4);
      expect(first.summary.folders).toBeGreaterThan(4);

      // Every item once, in the order the change list gives them (folder by folder), whatever the answers' order.
      expect(first.planned).toHaveLength(120);
      expect(new Set(first.planned).size).toBe(120);
      expect(first.planned).toEqual(upsertsToExport(first.changes));
      const folderOrder = first.changes.flatMap((r) => (r.kind === 'folder' ? [r.id] : []));
      const folderOfItem = new Map(
        first.changes.flatMap((r) => (r.kind === 'upsert' ? [[r.item.id, r.item.folderId] as const] : [])),
      );
      const plannedFolders = first.planned.map((id) => folderOrder.indexOf(folderOfItem.get(id)!));
      expect(plannedFolders).toEqual([...plannedFolders].sort((a, b) => a - b));

      const second = await plan(client, vault, 'plan-2');
      expect(second.planned).toEqual(first.planned);
    } finally {
      sim.setLatency(0, 0);
    }
  });

  it('plans nothing of a folder whose round breaks after its first page, and counts only what it plans', async () => {
    const { client } = clientFor(sim, { pageSize: 10 });
    const { vault } = await freshVault('plan');
    const mailbox = sim.tenant.mailbox(upn);
    const inbox = mailbox.folderByIdOrName('inbox')!;
    const inboxItems = [...mailbox.items.values()].filter((item) => item.folderId === inbox.id).length;
    expect(inboxItems).toBeGreaterThan(10); // more than one page

    // The same client, whose Inbox round breaks once its first page is in.
    const breaking = Object.create(client) as MailboxClient;
    breaking.listItemChanges = async function* (mailboxId, folderId, options) {
      let pages = 0;
      for await (const page of client.listItemChanges(mailboxId, folderId, options)) {
        if (folderId === inbox.id && ++pages === 2) throw new Error('the connection was reset');
        yield page;
      }
    };
    const { summary, planned, changes } = await plan(breaking, vault, 'plan-broken');
    expect(summary.failedFolders).toBe(1);
    expect(changes).toContainEqual(
      expect.objectContaining({ kind: 'folderFailed', folderId: inbox.id, reason: expect.stringContaining('reset') }),
    );
    expect(changes.some((r) => r.kind === 'upsert' && r.item.folderId === inbox.id)).toBe(false);
    expect(planned).toHaveLength(120 - inboxItems);
    expect(summary.itemsToExport).toBe(planned.length);
    expect(summary.changedItems).toBe(planned.length);
  });
});
