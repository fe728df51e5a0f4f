import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../local/simulator/random.js';
import type { RunReport } from '../../shared/backup/types.js';
import type { RestoreReport } from '../../shared/restore/types.js';
import { layout } from '../../shared/vault/layout.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import type { SnapshotRecord } from '../../shared/vault/records.js';
import { listSnapshots } from '../../shared/vault/snapshotCatalog.js';
import {
  restoreTargetProblems,
  startThroughApi,
  unaccountedSourceItems,
  verifyWholeVault,
  watchSnapshotDeletes,
  snapshotKey,
  readerMarkersOnly,
  type SnapshotDeletes,
  ZERO_RETENTION,
} from '../support/integrity.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Everything at once: two backups of overlapping mailboxes (one also of a restore's target), a prune of the whole vault, three restores (two into
 * one target) and a cancel, started together under random simulator faults, once per seed. At the end every
 * committed snapshot verifies in full, every backup result either has a snapshot or says why not, every restore
 * target holds each item of the snapshots restored into it exactly once or a report names it, no prune deleted a
 * snapshot an accepted restore was still reading (a restore of an expired snapshot with a prune right behind it makes
 * sure one tries), and a last backup without faults holds every source item (the overlapping runs left the delta
 * state sound).
 *
 * `npm test` runs two seeds; `CONCURRENCY_SEEDS=40` (in .ci/run) runs that many.
 */

const SOURCES = ['ana@contoso.example', 'bo@contoso.example', 'cy@contoso.example'];
const TARGETS = ['tia@contoso.example', 'tom@contoso.example'];
const SEEDS = Number(process.env.CONCURRENCY_SEEDS ?? 2);
const FIRST_SEED = Number(process.env.CONCURRENCY_FIRST_SEED ?? 1);

type Job = {
  kind: 'backups' | 'restores' | 'maintenance' | 'refused';
  id: string;
  target?: string;
  canceled?: boolean;
};

async function waitAll(stack: Stack, jobs: Job[]): Promise<string[]> {
  const problems: string[] = [];
  for (const job of jobs.filter((j) => j.kind !== 'refused')) {
    const status = await stack.app.host.waitForCompletion(job.id);
    // A canceled restore's orchestration is terminated (its report says Canceled).
    const expected = job.canceled ? ['Completed', 'Terminated'] : ['Completed'];
    if (!expected.includes(status.runtimeStatus)) problems.push(`${job.id} ended ${status.runtimeStatus}`);
  }
  return problems;
}

/** A few items changed, deleted and added in each source, chosen by the seed. */
function changeSources(stack: Stack, random: SeededRandom): void {
  const { tenant } = stack.sim;
  for (const upn of SOURCES) {
    const mailbox = tenant.mailbox(upn);
    const ids = [...mailbox.items.keys()];
    tenant.changeItem(mailbox, ids[random.int(0, ids.length - 1)]!, { subject: 'Changed' });
    tenant.deleteItem(mailbox, ids[random.int(0, ids.length - 1)]!);
    tenant.addItem(mailbox, 'inbox', { subject: `Added (${upn})` });
  }
}

function shuffled<T>(values: T[], random: SeededRandom): T[] {
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Starts the overlapping work in a seeded order; cancels one restore (or none) part-way. */
async function startTogether(stack: Stack, random: SeededRandom): Promise<Job[]> {
  const restore = (source: string, target: string) => async (): Promise<Job> => {
    const body = { sourceMailbox: source, targetMailbox: target, destination: 'original', collisions: 'skip' };
    try {
      return { kind: 'restores', id: await startThroughApi(stack, '/api/restores', body), target };
    } catch (error) {
      // The prune was expiring the snapshot the restore found (a backup committed a newer one meanwhile): the
      // restore is refused cleanly, and nothing of it runs.
      if (!/POST \/api\/restores: 409 .*Snapshot pruned while the restore started/.test((error as Error).message))
        throw error;
      return { kind: 'refused', id: 'refused', target };
    }
  };
  const starters: Array<() => Promise<Job>> = [
    async () => ({
      kind: 'backups',
      id: await startThroughApi(stack, '/api/backups', { mailboxes: SOURCES.slice(0, 2) }),
    }),
    async () => ({
      kind: 'backups',
      id: await startThroughApi(stack, '/api/backups', { mailboxes: [...SOURCES.slice(1), TARGETS[0]] }),
    }),
    async () => ({ kind: 'maintenance', id: await startThroughApi(stack, '/api/maintenance', { prune: {} }) }),
    restore(SOURCES[0]!, TARGETS[0]!),
    restore(SOURCES[1]!, TARGETS[1]!),
    restore(SOURCES[2]!, TARGETS[0]!),
  ];
  const jobs = await Promise.all(shuffled(starters, random).map((start) => start()));
  const restores = jobs.filter((j) => j.kind === 'restores');
  const cancel = random.int(0, restores.length); // one past the end: no cancel this seed
  if (cancel < restores.length) {
    await new Promise((resolve) => setTimeout(resolve, random.int(0, 300)));
    restores[cancel]!.canceled = true;
    const answer = await stack.api('DELETE', `/api/restores/${restores[cancel]!.id}`);
    if (answer.status !== 202 && answer.status !== 409) throw new Error(`cancel: ${answer.status}`);
  }
  return jobs;
}

/** Each backup result has a snapshot or says why not (an error, another run owned the mailbox). */
async function backupProblems(stack: Stack, jobs: Job[]): Promise<string[]> {
  const problems: string[] = [];
  for (const job of jobs.filter((j) => j.kind === 'backups')) {
    const report = (await stack.api('GET', `/api/backups/${job.id}`)).body?.report as RunReport | undefined;
    if (!report) problems.push(`${job.id}: no report`);
    for (const result of report?.mailboxes ?? [])
      if (!result.snapshotId && !result.error && !result.skippedFor)
        problems.push(`${job.id}: ${result.upn} has no snapshot and no reason`);
  }
  return problems;
}

/**
 * Each target holds the items of every snapshot restored into it once each, or the reports name them. The prune
 * may expire a snapshot once the restores reading it have ended (its items were kept as it deleted them); never
 * while an accepted restore still reads it.
 */
async function restoreProblems(stack: Stack, jobs: Job[], deletes: SnapshotDeletes): Promise<string[]> {
  const accepted = new Set(jobs.filter((j) => j.kind === 'restores').map((j) => j.id));
  const problems = deletes.readWhileDeleted
    .filter((read) => accepted.has(read.restoreId))
    .map((read) => `${read.restoreId}: its snapshot ${read.snapshotId} was pruned while the restore still read it`);
  for (const target of TARGETS) {
    const reports: RestoreReport[] = [];
    for (const job of jobs.filter((j) => j.kind === 'restores' && j.target === target)) {
      const report = (await stack.api('GET', `/api/restores/${job.id}`)).body?.report as RestoreReport | undefined;
      if (!report) problems.push(`${job.id}: no report`);
      else reports.push(report);
      // A restore reads only versions its snapshot keeps while it runs (the prune handshake): none went missing.
      for (const failure of report?.failures ?? [])
        if (/BlobNotFound|blob does not exist/i.test(`${failure.code} ${failure.message}`))
          problems.push(`${job.id}: ${failure.sourceItemId} read a version the vault no longer holds`);
    }
    const snapshots: SnapshotRecord[] = [];
    for (const report of reports) {
      const record = await stack.vault.readJson<SnapshotRecord>(
        layout.snapshotRecord(report.source.mailboxId, report.source.snapshotId),
      );
      const deleted = deletes.deleted.get(snapshotKey(report.source));
      if (record) snapshots.push(record);
      else if (deleted) snapshots.push(deleted.record);
      else if (report.counts.imported > 0 || report.counts.failed < report.counts.selected)
        problems.push(`${report.restoreId}: its snapshot ${report.source.snapshotId} is gone, not every item named`);
    }
    problems.push(...(await restoreTargetProblems(stack, target, snapshots, reports, deletes)));
  }
  return problems;
}

/**
 * A restore of bo's oldest snapshot (expired by the zero retention, a newer one exists), and a prune started as soon
 * as it is accepted: the prune keeps that snapshot while the restore reads it, and may expire it once it ended.
 */
async function restoreOldestThenPrune(stack: Stack): Promise<{ job: Job; prune: Job }> {
  const source = SOURCES[1]!;
  const oldest = (await listSnapshots(stack.vault, stack.sim.tenant.mailbox(source).id)).at(-1)!.snapshotId;
  const body = { sourceMailbox: source, targetMailbox: TARGETS[0], destination: 'original', collisions: 'skip' };
  const id = await startThroughApi(stack, '/api/restores', { ...body, snapshot: oldest });
  const prune = await startThroughApi(stack, '/api/maintenance', { prune: {} });
  return { job: { kind: 'restores', id, target: TARGETS[0] }, prune: { kind: 'maintenance', id: prune } };
}

async function concurrentRound(seed: number): Promise<string[]> {
  const random = new SeededRandom(seed);
  const stack = await startStack(
    { mailboxes: [...SOURCES.map((upn) => ({ upn, items: 8 })), ...TARGETS.map((upn) => ({ upn, items: 0 }))] },
    { simulator: { seed }, settings: ZERO_RETENTION },
  );
  try {
    const first = await startThroughApi(stack, '/api/backups', { mailboxes: SOURCES });
    const problems = await waitAll(stack, [{ kind: 'backups', id: first }]);
    await readerMarkersOnly(stack.vault); // the prunes read their mailbox's reader markers, as once upgraded
    changeSources(stack, random);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // run ids have a second's resolution
    stack.sim.setFaults({
      http503: random.next() * 0.08,
      drop: random.next() * 0.03,
      truncateExport: random.next() * 0.1,
      exportItemError: random.next() * 0.05,
      loseImportResponse: random.next() * 0.1,
    });
    const deletes = watchSnapshotDeletes(stack);
    const jobs = await startTogether(stack, random);
    problems.push(...(await waitAll(stack, jobs)));
    const lateRestore = await restoreOldestThenPrune(stack);
    jobs.push(lateRestore.job);
    problems.push(...(await waitAll(stack, [lateRestore.job, lateRestore.prune])));
    deletes.stop();
    stack.sim.setFaults({ http503: 0, drop: 0, truncateExport: 0, exportItemError: 0, loseImportResponse: 0 });
    problems.push(...(await verifyWholeVault(stack)));
    problems.push(...(await backupProblems(stack, jobs)));
    problems.push(...(await restoreProblems(stack, jobs, deletes)));
    // The overlapping runs left each mailbox's delta state sound: a last backup holds every item as it is.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const settle = await startThroughApi(stack, '/api/backups', { mailboxes: SOURCES });
    problems.push(...(await waitAll(stack, [{ kind: 'backups', id: settle }])));
    for (const upn of SOURCES) problems.push(...(await unaccountedSourceItems(stack, upn)).missing);
    problems.push(...(await verifyWholeVault(stack)));
    return problems;
  } finally {
    setVaultWriteHook(undefined);
    await stack.close();
  }
}

describe('backups, prunes, restores and cancels of overlapping mailboxes at once, under faults', () => {
  it('keep every snapshot verified, every item stored or reported, and each restored item once', async () => {
    const failures: string[] = [];
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const problems = await concurrentRound(seed);
      if (problems.length) console.warn(`seed ${seed}:\n  ${problems.join('\n  ')}`);
      failures.push(...problems.map((p) => `seed ${seed}: ${p}`));
    }
    expect(failures).toEqual([]);
  }, 3_600_000);
});
