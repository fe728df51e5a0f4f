import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  planMailbox,
  planMailboxSlice,
  type PlanSettings,
  type NextDeltaState,
  type PlanSliceResult,
} from '../../shared/backup/plan.js';
import type { OpenRound } from '../../shared/backup/openRound.js';
import { roundRecordKey, type RoundRecord } from '../../shared/backup/planMerge.js';
import type { PlanSummary } from '../../shared/backup/types.js';
import type { MailboxClient } from '../../shared/graph/index.js';
import { MAX_RUNS_MERGED_AT_ONCE, readSortedRuns } from '../../shared/vault/externalSort.js';
import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, collect, startSeededSimulator } from '../support/graph.js';
import { freshVault } from '../support/vault.js';
import { writtenPlan } from '../support/writtenPlan.js';

let sim: Simulator;
const upn = 'noor@contoso.example';
/** A mailbox of its own for the test that deletes an item. */
const expiring = 'ines@contoso.example';
/** Small budgets: several slices of two folders, every sort through the vault. */
const settings: PlanSettings = {
  maxItemsPerBatch: 20,
  batchReportedBytes: 50_000_000,
  recordsInMemory: 7,
  sliceBudget: { items: 1_000, folders: 2 },
};

beforeAll(async () => {
  sim = await startSeededSimulator({
    mailboxes: [
      { upn, items: 120 },
      { upn: expiring, items: 60 },
    ],
  });
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

/** The mailbox's plan made in one go (run `whole`): what every sliced plan of it must write. */
async function plannedWhole(client: MailboxClient, vault: VaultStore) {
  const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
  const input = { mailboxId, upn };
  const summary = await planMailbox(client, vault, settings, { ...input, runId: 'whole' });
  return { mailboxId, input, expected: await written(vault, 'whole', mailboxId, summary) };
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
    const { mailboxId, input, expected } = await plannedWhole(client, vault);

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

  it('merges each slice into runs of its own: a slice that fails after its merge leaves the runs the checkpoint names as they were', async () => {
    const { client } = clientFor(sim, { pageSize: 10 });
    const { vault } = await freshVault('plan-fan-in-retried');
    const { mailboxId, input, expected } = await plannedWhole(client, vault);

    const oneRecordRuns = { ...settings, recordsInMemory: 1 };
    const runId = 'many-runs-retried';
    const progress = layout.runPlanProgress(runId, mailboxId);
    const slice = (n: number) => planMailboxSlice(client, vault, oneRecordRuns, { ...input, runId, slice: n });
    const namedRecords = (runs: string[]) => collect(readSortedRuns<RoundRecord>(vault, runs, roundRecordKey));
    let result = await slice(0);
    let mergedOver = 0;
    while ('nextSlice' in result) {
      const named = (await vault.readJson<{ roundRuns: string[] }>(progress))!.roundRuns;
      const before = await namedRecords(named);
      if (named.length === MAX_RUNS_MERGED_AT_ONCE) mergedOver++;
      // Each slice dies once as its checkpoint is written, after its runs were merged down, and is retried.
      setVaultWriteHook((write, phase) => {
        if (phase === 'before' && write.blobName === progress) throw new Error('[injected crash] the worker died');
      });
      try {
        await expect(slice(result.nextSlice)).rejects.toThrow('injected crash');
      } finally {
        setVaultWriteHook(undefined);
      }
      // The runs the checkpoint names are as the slice before left them: the retry reads those.
      expect(await namedRecords(named)).toEqual(before);
      result = await slice(result.nextSlice);
    }
    // Slices that merged over runs the checkpoint before them names: it names as many as a merge reads at once.
    expect(mergedOver).toBeGreaterThan(1);
    expect(await written(vault, runId, mailboxId, result.summary)).toEqual(expected);
  });

  describe('a folder larger than a slice', () => {
    /** Slices of 15 items: every folder of more is read over several slices, a page of 10 at a time. */
    const small = { ...settings, sliceBudget: { items: 15, folders: 100 } };

    /** Plans slice by slice; `between` runs after each checkpoint, given the open round it names, if any. */
    async function planInSlices(
      client: MailboxClient,
      vault: VaultStore,
      input: { mailboxId: string; upn: string; runId: string },
      between: (open: OpenRound | undefined, slice: number) => void | Promise<void> = () => undefined,
    ) {
      const opened: OpenRound[] = [];
      let result: PlanSliceResult = { nextSlice: 0 };
      while ('nextSlice' in result) {
        const slice = result.nextSlice;
        result = await planMailboxSlice(client, vault, small, { ...input, slice });
        if ('summary' in result) break;
        const progress = await vault.readJson<{ openRound?: OpenRound }>(
          layout.runPlanProgress(input.runId, input.mailboxId),
        );
        if (progress?.openRound) opened.push(progress.openRound);
        await between(progress?.openRound, slice);
      }
      return { summary: result.summary, opened };
    }

    /** The client, with where each delta round and listing it reads starts written down (`delta|list folder link`). */
    function recordingStarts(client: MailboxClient, starts: string[]): MailboxClient {
      return new Proxy(client, {
        get(target, property) {
          if (property === 'listItemChanges')
            return (...args: Parameters<MailboxClient['listItemChanges']>) => {
              starts.push(`delta ${args[1]} ${args[2]?.deltaLink ?? 'first'}`);
              return target.listItemChanges(...args);
            };
          if (property === 'listItemPages')
            return (...args: Parameters<MailboxClient['listItemPages']>) => {
              starts.push(`list ${args[1]} ${args[2]?.from ?? 'first'}`);
              return target.listItemPages(...args);
            };
          const value: unknown = Reflect.get(target, property);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    }

    /** Graph requests to the mailbox while `work` runs, by kind. */
    async function requestsDuring<T>(mailboxId: string, work: () => Promise<T>) {
      const before = { ...sim.throttle.countersFor(mailboxId).requests };
      const result = await work();
      const after = sim.throttle.countersFor(mailboxId).requests;
      const made = Object.fromEntries(Object.entries(after).map(([kind, n]) => [kind, n - (before[kind] ?? 0)]));
      return { result, requests: made };
    }

    async function start(name: string) {
      const { client } = clientFor(sim, { pageSize: 10 });
      const { vault } = await freshVault(name);
      const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
      const { result: whole, requests } = await requestsDuring(mailboxId, () =>
        planMailbox(client, vault, settings, { mailboxId, upn, runId: 'whole' }),
      );
      return { client, vault, mailboxId, requests, expected: await written(vault, 'whole', mailboxId, whole) };
    }

    it('reads it over several slices, page by page, and writes what an uninterrupted run writes', async () => {
      const { client, vault, mailboxId, expected, requests } = await start('plan-open-rounds');
      const runId = 'open-rounds';
      const starts: string[] = [];
      const sliced = await requestsDuring(mailboxId, () =>
        planInSlices(recordingStarts(client, starts), vault, { mailboxId, upn, runId }),
      );
      const { summary, opened } = sliced.result;
      // Every page read once: a large folder's slices each go on where the one before stopped, and no folder is
      // read ahead that its slice does not hand over (read again by the next).
      const large = new Set(opened.map((round) => round.folderId));
      expect(starts.filter((start) => large.has(start.split(' ')[1]!)).length).toBeGreaterThan(large.size * 2);
      expect(starts.filter((start, index) => starts.indexOf(start) !== index)).toEqual([]);
      // The same kinds of request as the uninterrupted run: no item asked for by a GET instead of the listing.
      expect(Object.keys(sliced.requests).sort()).toEqual(Object.keys(requests).sort());
      // Checkpoints in the middle of a round's pages, and of the listing that completes its items' properties.
      expect(opened.some((round) => round.phase === 'pages' && round.next !== undefined)).toBe(true);
      expect(opened.some((round) => round.phase === 'listing' && round.next !== undefined)).toBe(true);
      expect(await written(vault, runId, mailboxId, summary)).toEqual(expected);
      expect(await collect(vault.listNames(layout.runPlanSortPrefix(runId, mailboxId)))).toEqual([]);
    });

    it('goes on from the checkpoint before a slice killed in the middle of a round', async () => {
      const { client, vault, mailboxId, expected } = await start('plan-open-crash');
      const runId = 'open-crash';
      const progress = layout.runPlanProgress(runId, mailboxId);
      let killed = 0;
      const { summary } = await planInSlices(client, vault, { mailboxId, upn, runId }, async (open, slice) => {
        if (!open?.next || killed > 0) return;
        // The next slice dies before its checkpoint lands; its retry reads the same pages again.
        setVaultWriteHook((write, phase) => {
          if (phase === 'before' && write.blobName === progress) throw new Error('[injected crash] the worker died');
        });
        try {
          await expect(
            planMailboxSlice(client, vault, small, { mailboxId, upn, runId, slice: slice + 1 }),
          ).rejects.toThrow('injected crash');
        } finally {
          setVaultWriteHook(undefined);
        }
        killed++;
      });
      expect(killed).toBe(1);
      expect(await written(vault, runId, mailboxId, summary)).toEqual(expected);
    });

    it('starts a round over when its link expires between two slices, leaving out what it read before', async () => {
      const { client } = clientFor(sim, { pageSize: 10 });
      const { vault } = await freshVault('plan-open-expired');
      const mailboxId = (await client.getMailboxIds(expiring)).primaryMailboxId;
      const input = { mailboxId, upn: expiring };
      const whole = await planMailbox(client, vault, settings, { ...input, runId: 'whole' });
      const expected = await written(vault, 'whole', mailboxId, whole);
      let deleted: string | undefined;
      const { summary } = await planInSlices(client, vault, { ...input, runId: 'expired' }, async (open) => {
        if (deleted || open?.phase !== 'pages' || !open.next) return;
        // An item the round has read goes, and the round's state expires: its start over must not list it.
        const [read] = await collect(readSortedRuns<RoundRecord>(vault, open.roundRuns, roundRecordKey));
        deleted = roundRecordKey(read!);
        sim.tenant.deleteItem(sim.tenant.mailbox(expiring), deleted);
        sim.invalidateDeltaTokens(mailboxId);
      });
      expect(deleted).toBeDefined();
      const plan = await written(vault, 'expired', mailboxId, summary);
      expect(plan.counts.itemsToExport).toBe(expected.counts.itemsToExport - 1);
      expect(plan.counts.missedByDelta).toBe(0);
      const ids = (batches: Array<Array<{ id: string }>>) =>
        batches
          .flat()
          .map((item) => item.id)
          .sort();
      expect(ids(plan.batches)).toEqual(ids(expected.batches).filter((id) => id !== deleted));
    });

    it('lists it instead when Graph refuses its delta for quota between two slices', async () => {
      const { client, vault, mailboxId, expected } = await start('plan-open-quota');
      let refused: string | undefined;
      const { summary } = await planInSlices(client, vault, { mailboxId, upn, runId: 'quota' }, (open) => {
        if (refused || open?.phase !== 'pages' || !open.next) return;
        refused = open.folderId;
        sim.exceedDeltaQuota(mailboxId, open.folderId);
      });
      sim.exceedDeltaQuota(mailboxId, refused, false);
      // Every item planned all the same; the folder listed instead, with no link for the next run.
      expect(summary).toMatchObject({ itemsToExport: expected.counts.itemsToExport, enumeratedFolders: 1 });
      const next = await vault.readJson<NextDeltaState>(layout.runNextDelta('quota', mailboxId));
      expect(Object.keys(next!.itemDeltaLinks)).toEqual(expected.linkedFolders.filter((id) => id !== refused));
    });
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
