import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planMailbox, type PlanSettings } from '../../shared/backup/plan.js';
import type { PlanSummary } from '../../shared/backup/types.js';
import { layout } from '../../shared/vault/layout.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, collect, startSeededSimulator } from '../support/graph.js';
import { freshVault } from '../support/vault.js';
import { writtenPlan } from '../support/writtenPlan.js';

/**
 * A first backup's folder rounds larger than planning's in-memory budget: each round is spilled to the vault by
 * id as its pages come, its items' properties completed by merging it with the folder's listing (sorted by id
 * too), and the plan is the one planning everything in memory writes; the spills are deleted afterwards. The
 * simulator's item delta gives no search keys (Graph's documented behaviour), so every item is completed.
 */
const upn = 'amara@contoso.example';
let sim: Simulator;

beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn, items: 90 }] });
});
afterAll(() => sim.close());

const getItemRequests = (mailboxId: string) => sim.throttle.countersFor(mailboxId).requests['getItem'] ?? 0;

const settings = (recordsInMemory: number): PlanSettings => ({
  maxItemsPerBatch: 20,
  batchReportedBytes: 50_000_000,
  recordsInMemory,
  sliceBudget: { items: 100_000, folders: 1_000 },
});

describe("a first backup's folder rounds beyond the in-memory budget", () => {
  it('plans what planning in memory plans, search keys and all, and deletes the spilled rounds', async () => {
    const { client } = clientFor(sim, { pageSize: 4 });
    const { vault } = await freshVault('round-spill');
    const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;

    const inMemory = await planMailbox(client, vault, settings(100_000), { runId: 'in-memory', mailboxId, upn });
    const expected = await writtenPlan(vault, 'in-memory', mailboxId, inMemory);
    expect(expected.counts).toMatchObject({ itemsToExport: 90, itemsWithoutSearchKey: 0, missedByDelta: 0 });
    const upserts = expected.changes.filter((record) => record.kind === 'upsert');
    expect(upserts).toHaveLength(90);
    for (const record of upserts) expect(record.item.searchKey).toBeDefined();

    const spills: string[] = [];
    setVaultWriteHook((write, phase) => {
      if (phase === 'after' && write.blobName.includes('/plan-sort/folder-rounds/')) spills.push(write.blobName);
    });
    const getsBefore = getItemRequests(mailboxId);
    let spilled: PlanSummary;
    try {
      spilled = await planMailbox(client, vault, settings(3), { runId: 'spilled', mailboxId, upn });
    } finally {
      setVaultWriteHook(undefined);
    }
    // Each folder's round, its listing and its completed records went through the vault…
    for (const part of ['/round/', '/listing/', '/completed/'])
      expect(spills.filter((name) => name.includes(part)).length).toBeGreaterThan(3);
    // Every item was matched with its listing, by id: none was read again by a GET…
    expect(getItemRequests(mailboxId) - getsBefore).toBe(0);
    // …and the plan is the same, item for item, with the same properties.
    expect(await writtenPlan(vault, 'spilled', mailboxId, spilled)).toEqual(expected);
    expect(await collect(vault.listNames(layout.runPlanSortPrefix('spilled', mailboxId)))).toEqual([]);
  });
});
