import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import type { RestoreReport } from '../../shared/restore/types.js';
import { compactTime } from '../../shared/vault/layout.js';
import {
  crashTargetAt,
  CrashPoints,
  isTimingDependent,
  pointsToCrash,
  type CrashTarget,
} from '../support/crashPoints.js';
import {
  maintenanceInput,
  restoreTargetProblems,
  startThroughApi,
  unaccountedSourceItems,
  verifyWholeVault,
  ZERO_RETENTION,
} from '../support/integrity.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * Crash everywhere: one scripted scenario (back up, change items, back up again, prune, restore to another
 * mailbox, restore again) run once per crash point. A crash point is an activity's start or end, or either side
 * of a vault write (test/support/crashPoints.ts); the dry run numbers them, then each run stops "the process"
 * at one of them and lets Durable recover (the activities in flight are retried, the orchestrations go on).
 * After each run every committed snapshot verifies in full, the newest snapshot holds every source item or
 * its report names it, and the restore target holds each item once.
 *
 * `npm test` runs a deterministic sample of 12 points spread evenly over the scenario; `CRASH_SWEEP=all` (in
 * .ci/run) runs every point.
 */

const SOURCE = 'ana@contoso.example';
const TARGET = 'ben@contoso.example';

interface ScenarioOutcome {
  reached: string[];
  crashedAt: string | undefined;
  problems: string[];
}

async function waitFor(stack: Stack, id: string): Promise<void> {
  const status = await stack.app.host.waitForCompletion(id);
  if (status.runtimeStatus !== 'Completed')
    throw new Error(`${id} ended ${status.runtimeStatus}: ${JSON.stringify(status.output)}`);
}

async function scriptedRun(stack: Stack): Promise<{ backups: string[]; restores: string[] }> {
  const backup = async () => {
    const id = await startThroughApi(stack, '/api/backups', { mailboxes: [SOURCE] });
    await waitFor(stack, id);
    return id;
  };
  const restore = async () => {
    const body = { sourceMailbox: SOURCE, targetMailbox: TARGET, destination: 'original', collisions: 'skip' };
    const id = await startThroughApi(stack, '/api/restores', body);
    await waitFor(stack, id);
    return id;
  };
  const first = await backup();
  const { tenant } = stack.sim;
  const source = tenant.mailbox(SOURCE);
  const ids = [...source.items.keys()];
  tenant.changeItem(source, ids[1]!, { subject: 'Changed between the backups' });
  tenant.deleteItem(source, ids[2]!);
  tenant.addItem(source, 'inbox', { subject: 'Arrived between the backups' });
  await new Promise((resolve) => setTimeout(resolve, 1_100)); // run ids have a second's resolution
  const second = await backup();
  const maintenanceId = `maintenance-${compactTime(new Date(Date.now() + 86_400_000))}`;
  stack.app.host.startNew('vaultMaintenance', { instanceId: maintenanceId, input: maintenanceInput(maintenanceId) });
  await waitFor(stack, maintenanceId);
  return { backups: [first, second], restores: [await restore(), await restore()] };
}

async function invariantProblems(stack: Stack, run: { backups: string[]; restores: string[] }): Promise<string[]> {
  const problems = await verifyWholeVault(stack);
  const { missing, snapshot } = await unaccountedSourceItems(stack, SOURCE);
  problems.push(...missing);
  for (const id of run.backups) {
    const report = (await stack.api('GET', `/api/backups/${id}`)).body?.report as RunReport | undefined;
    if (report?.status !== 'Completed') problems.push(`backup ${id}: ${report?.status ?? 'no report'}`);
  }
  if (snapshot?.runId !== run.backups[1]) problems.push(`the newest snapshot is not the second backup's`);
  const reports: RestoreReport[] = [];
  for (const id of run.restores) {
    const report = (await stack.api('GET', `/api/restores/${id}`)).body?.report as RestoreReport | undefined;
    if (!report) problems.push(`restore ${id}: no report`);
    else reports.push(report);
  }
  if (reports[1] && reports[1].counts.imported !== 0)
    problems.push(`the second restore imported ${reports[1].counts.imported} again`);
  if (snapshot) problems.push(...(await restoreTargetProblems(stack, TARGET, [snapshot], reports)));
  return problems;
}

async function runScenario(crashAt?: CrashTarget): Promise<ScenarioOutcome> {
  const stack = await startStack(
    {
      mailboxes: [
        { upn: SOURCE, items: 6 },
        { upn: TARGET, items: 0 },
      ],
    },
    // Planning, commits and restore plans in slices of a few records, so that crash points fall between slices too.
    {
      maxConcurrentActivities: 1,
      settings: {
        ...ZERO_RETENTION,
        MAILBOX_VAULT_PLAN_SLICE_ITEMS: '2',
        MAILBOX_VAULT_COMMIT_SLICE_RECORDS: '10',
        MAILBOX_VAULT_RESTORE_PLAN_SLICE_ITEMS: '3',
      },
    },
  );
  const points = new CrashPoints(crashAt);
  try {
    points.install();
    let run: { backups: string[]; restores: string[] };
    try {
      run = await scriptedRun(stack);
    } finally {
      points.uninstall();
    }
    return { reached: points.reached, crashedAt: points.crashedAt, problems: await invariantProblems(stack, run) };
  } catch (error) {
    return { reached: points.reached, crashedAt: points.crashedAt, problems: [`the run failed: ${String(error)}`] };
  } finally {
    await stack.close();
  }
}

describe('a crash at any activity boundary or vault write', () => {
  it('leaves every snapshot verified, every item stored or reported, and each restored item once', async () => {
    const dry = await runScenario();
    expect(dry.problems).toEqual([]);
    const chosen = pointsToCrash(dry.reached.length, 12);
    console.warn(`crash points: ${dry.reached.length}, running ${chosen.length}`);
    if (process.env.CRASH_LIST) console.warn(dry.reached.map((label, index) => `#${index} ${label}`).join('\n'));
    const failures: string[] = [];
    for (const index of chosen) {
      const target = crashTargetAt(dry.reached, index);
      const outcome = await runScenario(target);
      if (!outcome.crashedAt && isTimingDependent(target.label))
        console.warn(`#${index} (${target.label}): not reached on this run (its number of writes depends on time)`);
      else if (!outcome.crashedAt) failures.push(`#${index} (${target.label}): never reached`);
      for (const problem of outcome.problems) failures.push(`#${index} (${outcome.crashedAt}): ${problem}`);
      if (outcome.problems.length)
        console.warn(`#${index} (${outcome.crashedAt}):\n  ${outcome.problems.join('\n  ')}`);
    }
    expect(failures).toEqual([]);
  }, 3_600_000);
});
