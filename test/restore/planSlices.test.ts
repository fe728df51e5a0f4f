import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import type { MailboxClient } from '../../shared/graph/index.js';
import {
  planRestore,
  planRestoreSlice,
  readImportBatch,
  type RestorePlanProgress,
  type RestorePlanSettings,
} from '../../shared/restore/plan.js';
import type { PlannedImport, RestorePlanSummary, RestoreRequest } from '../../shared/restore/types.js';
import { layout } from '../../shared/vault/layout.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import { InjectedCrash, pointsToCrash } from '../support/crashPoints.js';
import { clientFor } from '../support/graph.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

/**
 * A restore plan in slices must be the plan one activity makes: the same items, in the same order, into the same
 * folders, with the same counts, whatever the slice size, and also when the process dies at any vault write of
 * it and the slice is run again. The target already holds part of the source (restored once before), so the
 * skip of present items lists the target's keys over several slices and compares by sorting.
 */
const SOURCE = 'slices-source@contoso.example';
const TARGET = 'slices-target@contoso.example';
const BATCHES = { itemsPerBatch: 4, bytesPerBatch: 64 * 1024 * 1024 };
/** Slices of 7 items, sorts of 3 records, a target of more than 5 keys compared by sorting. */
const SLICED: RestorePlanSettings = { ...BATCHES, sliceItems: 7, recordsInMemory: 3, keysInMemory: 5 };
/** The vault write points of the sliced plan with the skip (asserted, so the sweep covers them all). */
const CRASH_POINTS = 168;

let stack: Stack;
let graph: MailboxClient;
let source: { mailboxId: string; snapshotId: string; takenAt: string };
let targetId: string;

/**
 * The sweep plans against the target 170 times in a few minutes, some 60 requests a plan (its folder tree and
 * keys, slice after slice): far past Exchange's 10,000 requests per 10 minutes, which the simulator enforces. The
 * client would then wait out the Retry-After (minutes) as it should, and the sweep would time out.
 */
const SWEEP_REQUEST_BUDGET = { requests: 1_000_000, windowMs: 10 * 60_000 };

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: SOURCE, items: 45, sizes: [1_000, 4_000] },
        { upn: TARGET, items: 6 },
      ],
    },
    { simulator: { limits: { requestBudget: SWEEP_REQUEST_BUDGET } } },
  );
  const report = (await runBackup(stack)).status.report as RunReport;
  const backedUp = report.mailboxes.find((m) => m.upn === SOURCE)!;
  source = { mailboxId: backedUp.mailboxId, snapshotId: backedUp.snapshotId!, takenAt: backedUp.startedAt };
  targetId = report.mailboxes.find((m) => m.upn === TARGET)!.mailboxId;
  // The target holds one folder of the source already: those items are skipped as present.
  const first = await runRestore(stack, { sourceMailbox: SOURCE, targetMailbox: TARGET, folders: ['Inbox'] });
  expect(first.status.status).toBe('Completed');
  graph = clientFor(stack.sim).client;
});
afterAll(() => stack.close());
afterEach(() => setVaultWriteHook(undefined));

let requests = 0;
function request(collisions: 'skip' | 'copy'): RestoreRequest {
  return {
    restoreId: `restore-20261203T120000Z-slices${requests++}`,
    requestedAt: '2026-12-03T12:00:00.000Z',
    source: { ...source, upn: SOURCE },
    target: { mailboxId: targetId, upn: TARGET },
    filters: {},
    destination: { mode: 'newFolder' },
    collisions,
    requestedBy: 'test',
  };
}

/**
 * The plan's items in order, batch by batch, and its summary but for what slicing may change: the batches (a
 * slice ends its last one early) and the folders created (a plan before it may have made them).
 */
async function planned(restoreId: string, summary: RestorePlanSummary) {
  const items: PlannedImport[] = [];
  for (let batch = 0; batch < summary.batchCount; batch++) {
    const planned = await readImportBatch(stack.vault, restoreId, batch);
    expect(planned.batch).toBe(batch);
    items.push(...planned.items);
  }
  const { foldersCreated: _made, batchCount: _cut, ...counts } = summary;
  return { items, counts };
}

describe('a restore plan in slices', () => {
  it('plans what one activity plans, item for item, with and without the skip', async () => {
    for (const collisions of ['skip', 'copy'] as const) {
      const whole = request(collisions);
      const wholePlan = await planned(whole.restoreId, await planRestore(graph, stack.vault, BATCHES, whole));
      expect(await stack.vault.readJson(layout.restorePlanProgress(whole.restoreId))).toBeUndefined();

      const sliced = request(collisions);
      const summary = await planRestore(graph, stack.vault, SLICED, sliced);
      expect(await planned(sliced.restoreId, summary)).toEqual(wholePlan);
      const progress = await stack.vault.readJson<RestorePlanProgress>(layout.restorePlanProgress(sliced.restoreId));
      expect(progress!.slice).toBeGreaterThanOrEqual(6);
      expect(progress!.summary).toEqual(summary);

      expect(wholePlan.counts.selected).toBe(stack.sim.tenant.mailbox(SOURCE).items.size);
      if (collisions === 'skip') {
        expect(wholePlan.counts.skippedPresent).toBeGreaterThan(0);
        expect(progress!.targetKeys!.keys).toBeGreaterThan(SLICED.keysInMemory!);
        // The key runs went with the last slice.
        expect(await names(layout.restorePlanKeys(sliced.restoreId))).toEqual([]);
      } else expect(wholePlan.counts.skippedPresent).toBe(0);
    }
  });

  it('answers a retried slice from its checkpoint, and refuses a slice with none before it', async () => {
    const sliced = request('skip');
    const first = await planRestoreSlice(graph, stack.vault, SLICED, sliced, 0);
    expect(first).toEqual({ nextSlice: 1 });
    expect(await planRestoreSlice(graph, stack.vault, SLICED, sliced, 0)).toEqual({ nextSlice: 1 });
    await expect(planRestoreSlice(graph, stack.vault, SLICED, sliced, 2)).rejects.toThrow(/no checkpoint of slice 1/);
  });
});

/**
 * The sliced plan with "the process" stopped at one vault write, before it is sent or after it landed; the slice
 * is run again as Durable retries an activity. `npm test` runs 12 points spread over the plan, `CRASH_SWEEP=all`
 * every one.
 */
describe('a restore plan in slices, stopped at any vault write', () => {
  let reference: Awaited<ReturnType<typeof planned>>;

  beforeAll(async () => {
    let points = 0;
    setVaultWriteHook(() => void points++);
    const restore = request('skip');
    reference = await planned(restore.restoreId, await planRestore(graph, stack.vault, SLICED, restore));
    setVaultWriteHook(undefined);
    // Each write is two points (before it is sent, after it landed); the sweep below names them all.
    expect(points).toBe(CRASH_POINTS);
  });

  it.each(pointsToCrash(CRASH_POINTS, 12))('point %i', async (at) => {
    const restore = request('skip');
    let point = 0;
    let dead = false;
    setVaultWriteHook(() => {
      if (dead) throw new InjectedCrash('[injected crash] not written');
      if (point++ !== at) return;
      dead = true;
      throw new InjectedCrash(`[injected crash] at write ${at}`);
    });
    let summary: RestorePlanSummary | undefined;
    for (let slice = 0; !summary;) {
      try {
        const step = await planRestoreSlice(graph, stack.vault, SLICED, restore, slice);
        if ('summary' in step) summary = step.summary;
        else slice = step.nextSlice;
      } catch (error) {
        if (!(error instanceof InjectedCrash)) throw error;
        dead = false;
      }
    }
    setVaultWriteHook(undefined);
    expect(await planned(restore.restoreId, summary)).toEqual(reference);
  });
});

async function names(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const name of stack.vault.listNames(prefix)) out.push(name);
  return out;
}
