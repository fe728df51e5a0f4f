import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  planMailbox,
  planMailboxSlice,
  type PlanSettings,
  type NextDeltaState,
  type PlanSliceResult,
} from '../../shared/backup/plan.js';
import type { PlanSummary } from '../../shared/backup/types.js';
import type { MailboxClient } from '../../shared/graph/index.js';
import { MAX_RUNS_MERGED_AT_ONCE } from '../../shared/vault/externalSort.js';
import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, collect, startSeededSimulator } from '../support/graph.js';
import { freshVault } from '../support/vault.js';
import { writtenPlan } from '../support/writtenPlan.js';

let sim: Simulator;
const upn = 'noor@contoso.example';
/** Small budgets: several slices of two folders, every sort through the vault. */
const settings: PlanSettings = {
  maxItemsPerBatch: 20,
  batchReportedBytes: 50_000_000,
  recordsInMemory: 7,
  sliceBudget: { items: 1_000, folders: 2 },
};

beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn, items: 120 }] });
});
afterAll(() => sim.close());

/** The client, with every folder whose delta round it starts written down. */
function countingRounds(client: MailboxClient, rounds: string[]): MailboxClient {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'listItemChanges')
        return (...args: Parameters<MailboxClient['listItemChanges']>) => {
          rounds.push(args[1]);
          return target.listItemChanges(...args);
        };
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function written(vault: VaultStore, runId: string, mailboxId: string, summary: PlanSummary) {
  return {
    ...(await writtenPlan(vault, runId, mailboxId, summary)),
    // Links differ from round to round (Graph's tokens); which folders have one does not.
    linkedFolders: Object.keys(
      (await vault.readJson<NextDeltaState>(layout.runNextDelta(runId, mailboxId)))!.itemDeltaLinks,
    ),
  };
}

describe('planning in slices', () => {
  it('resumes a slice killed mid-way from the checkpoint before it, and writes what an uninterrupted run writes', async () => {
    const { client } = clientFor(sim, { pageSize: 10 });
    const { vault } = await freshVault('plan-slices');
    const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
    const input = { mailboxId, upn };

    const whole = await planMailbox(client, vault, settings, { ...input, runId: 'uninterrupted' });
    const expected = await written(vault, 'uninterrupted', mailboxId, whole);
    expect(expected.counts.itemsToExport).toBe(120);
    // Every item reported by its round: none left for the proof of coverage to find.
    expect(expected.counts.missedByDelta).toBe(0);

    const rounds: string[] = [];
    const counted = countingRounds(client, rounds);
    const runId = 'interrupted';
    const slice = (n: number) => planMailboxSlice(counted, vault, settings, { ...input, runId, slice: n });
    expect(await slice(0)).toEqual({ nextSlice: 1 });
    expect(await slice(1)).toEqual({ nextSlice: 2 });
    const readBeforeTheCrash = [...rounds];
    expect(readBeforeTheCrash).toHaveLength(4);

    // Slice 2 dies after reading its folders and writing its sorted runs, before its checkpoint lands.
    const progress = layout.runPlanProgress(runId, mailboxId);
    setVaultWriteHook((write, phase) => {
      if (phase === 'before' && write.blobName === progress) throw new Error('[injected crash] the worker died');
    });
    try {
      await expect(slice(2)).rejects.toThrow('injected crash');
    } finally {
      setVaultWriteHook(undefined);
    }
    const readByTheKilledSlice = rounds.slice(readBeforeTheCrash.length);
    expect(readByTheKilledSlice.length).toBeGreaterThan(0);
    // The sorted runs it wrote went with it: its retry writes them again.
    expect(await collect(vault.listNames(layout.runPlanSort(runId, mailboxId, 'rounds/2')))).toEqual([]);

    // Its retry reads the same folders again, none of the slices before it; a retried slice whose checkpoint
    // landed answers as it did.
    rounds.length = 0;
    let result: PlanSliceResult = await slice(2);
    expect(rounds).toEqual(readByTheKilledSlice);
    expect(await slice(2)).toEqual(result);
    let last = 2;
    while ('nextSlice' in result) result = await slice((last = result.nextSlice));
    expect(rounds.filter((folderId) => readBeforeTheCrash.includes(folderId))).toEqual([]);

    expect(await written(vault, runId, mailboxId, result.summary)).toEqual(expected);
    // The sorted runs are gone once the plan is written.
    expect(await collect(vault.listNames(layout.runPlanSortPrefix(runId, mailboxId)))).toEqual([]);

    // The last slice retried, or the one after it asked for, answers with the summary written, reading nothing.
    rounds.length = 0;
    expect(await slice(last)).toEqual(result);
    expect(await slice(last + 1)).toEqual(result);
    expect(rounds).toEqual([]);
    // A slice whose predecessor never checkpointed is refused: it would plan from nothing.
    await expect(slice(last + 2)).rejects.toThrow(
      `Planning slice ${last + 2} of run ${runId} has no checkpoint of slice ${last + 1} to continue from`,
    );
    await expect(
      planMailboxSlice(counted, vault, settings, { ...input, runId: 'never-started', slice: 1 }),
    ).rejects.toThrow('has no checkpoint of slice 0');
  });

  it("keeps the rounds' runs its checkpoints name under what the last slice may read at once", async () => {
    const { client } = clientFor(sim, { pageSize: 10 });
    const { vault } = await freshVault('plan-fan-in');
    const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
    const input = { mailboxId, upn };
    const expected = await written(
      vault,
      'whole',
      mailboxId,
      await planMailbox(client, vault, settings, { ...input, runId: 'whole' }),
    );

    // One record per run: 120 items make more runs than one merge may read, spread over the slices.
    const oneRecordRuns = { ...settings, recordsInMemory: 1 };
    const runId = 'many-runs';
    const checkpointed: number[] = [];
    let result: PlanSliceResult = { nextSlice: 0 };
    while ('nextSlice' in result) {
      result = await planMailboxSlice(client, vault, oneRecordRuns, { ...input, runId, slice: result.nextSlice });
      const progress = await vault.readJson<{ roundRuns: string[] }>(layout.runPlanProgress(runId, mailboxId));
      if ('nextSlice' in result) checkpointed.push(progress!.roundRuns.length);
    }
    expect(checkpointed.length).toBeGreaterThan(1);
    expect(Math.max(...checkpointed)).toBeLessThanOrEqual(MAX_RUNS_MERGED_AT_ONCE);
    expect(await written(vault, runId, mailboxId, result.summary)).toEqual(expected);
    expect(await collect(vault.listNames(layout.runPlanSortPrefix(runId, mailboxId)))).toEqual([]);
  });

  it('plans a mailbox that fits one slice without a checkpoint or a sorted run in the vault', async () => {
    const { client } = clientFor(sim, { pageSize: 10 });
    const { vault } = await freshVault('plan-one-slice');
    const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
    const roomy = {
      ...settings,
      recoverableItems: true,
      recordsInMemory: 10_000,
      sliceBudget: { items: 10_000, folders: 1_000 },
    };
    const result = await planMailboxSlice(client, vault, roomy, { mailboxId, upn, runId: 'one', slice: 0 });
    // The tree's Recoverable Items root is an entry with no items of its own: no round is read of it.
    expect('summary' in result && result.summary).toMatchObject({ itemsToExport: 120, failedFolders: 0 });
    expect(await vault.readJson(layout.runPlanProgress('one', mailboxId))).toBeUndefined();
    expect(await vault.readJson(layout.runPlanStart('one', mailboxId))).toBeUndefined();
    expect(await collect(vault.listNames(layout.runPlanSortPrefix('one', mailboxId)))).toEqual([]);
  });
});
