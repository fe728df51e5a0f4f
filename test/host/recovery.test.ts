import { beforeAll, describe, expect, it } from 'vitest';
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { DurableHost, MemoryTaskHub } from '../../local/host/durableHost.js';
import { EventType } from '../../local/host/protocol.js';
import { registrations } from '../../local/host/registry.js';
import { installFunctionsCore } from '../../local/host/sdkPatches.js';

/**
 * The local host with a task hub, stopped after every possible number of task hub writes (no later write
 * lands, as when the process is killed) and started again on what the hub holds: each run resumes and ends
 * with the output an uninterrupted run gives, activities whose result was recorded never run again, and every
 * other activity runs at least once.
 */

/** Activity inputs in the order their executions started, across both hosts. */
let executions: string[] = [];

beforeAll(() => {
  installFunctionsCore();
  df.app.activity('r_step', {
    handler: async (name: unknown) => {
      executions.push(name as string);
      await new Promise((resolve) => setImmediate(resolve));
      return (name as string).length;
    },
  });
  df.app.orchestration('r_child', function* (context: OrchestrationContext) {
    const round = context.df.getInput() as number;
    const parts = (yield context.df.Task.all(
      ['a', 'bb', 'ccc'].map((s) => context.df.callActivity('r_step', `child${round}-${s}`)),
    )) as number[];
    return parts.reduce((a, b) => a + b, 0);
  });
  df.app.orchestration('r_main', function* (context: OrchestrationContext) {
    const { round, go } = context.df.getInput() as { round: number; go?: number };
    let sum = 0;
    for (const step of ['x', 'yy']) sum += (yield context.df.callActivity('r_step', `main${round}-${step}`)) as number;
    sum += (yield context.df.callSubOrchestrator('r_child', round, `${context.df.instanceId}-child${round}`)) as number;
    yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 3600_000));
    if (round === 0) {
      context.df.continueAsNew({ round: 1, go: (yield context.df.waitForExternalEvent('go')) as number });
      return undefined;
    }
    return sum + go!;
  });
});

function hostOn(taskHub: MemoryTaskHub): DurableHost {
  return new DurableHost({ registrations, clock: 'virtual', maxConcurrentActivities: 3, taskHub });
}

/** The client's side: whether each call was answered (a call without an answer is made again after a restart). */
interface ClientCalls {
  started: boolean;
  raised: boolean;
}

/** Starts the scenario; the event is raised at once (before the orchestrator waits for it, so it is kept). */
async function startScenario(host: DurableHost, calls: ClientCalls): Promise<void> {
  if (!calls.started) await host.client.startNew('r_main', { input: { round: 0 }, instanceId: 'scenario' });
  calls.started = true;
  if (!calls.raised) await host.client.raiseEvent('scenario', 'go', 100);
  calls.raised = true;
}

/** Activity inputs whose completion the hub recorded, by the TaskScheduled event each answers. */
async function recordedResults(hub: MemoryTaskHub): Promise<Set<string>> {
  const recorded = new Set<string>();
  for (const execution of await hub.load()) {
    const history = execution.records.flatMap((r) => (r.kind === 'episode' ? r.events : []));
    const scheduled = new Map(
      history.filter((e) => e.EventType === EventType.TaskScheduled).map((e) => [e.EventId, e]),
    );
    for (const e of history)
      if (e.EventType === EventType.TaskCompleted)
        recorded.add(JSON.parse(scheduled.get(e.TaskScheduledId as number)!.Input as string) as string);
  }
  return recorded;
}

describe('DurableHost with a task hub', () => {
  it('resumes after being stopped at any task hub write, re-running only activities without a recorded result', async () => {
    executions = [];
    const clean = new MemoryTaskHub();
    const reference = hostOn(clean);
    await startScenario(reference, { started: false, raised: false });
    const expected = await reference.waitForCompletion('scenario');
    expect(expected).toMatchObject({ runtimeStatus: 'Completed', output: 7 + 8 + 8 + 9 + 10 + 100 });
    const allActivities = new Set(executions);
    const totalWrites = clean.writes;
    expect(totalWrites).toBeGreaterThan(15);

    for (let landed = 1; landed < totalWrites; landed++) {
      const at = `stopped after ${landed} of ${totalWrites} writes`;
      executions = [];
      const hub = new MemoryTaskHub();
      hub.landsAtMost = landed;
      const calls = { started: false, raised: false };
      const dying = hostOn(hub);
      void startScenario(dying, calls);
      for (let spins = 0; hub.writes < landed; spins++) {
        if (spins > 100_000) throw new Error(`${at}: the run never got there`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      // Killed: from here on the dead host runs nothing (its writes never land, its activities never start).
      dying.injectActivityFault({ activity: 'r_step', when: 'before', times: Infinity });
      dying.close();
      const beforeRestart = executions.length;

      const restartedOn = hub.survivor();
      const recorded = await recordedResults(restartedOn);
      const restarted = hostOn(restartedOn);
      await restarted.recover();
      await startScenario(restarted, calls);
      const status = await restarted.waitForCompletion('scenario');
      expect(status, at).toMatchObject({ runtimeStatus: 'Completed', output: 142 });
      const rerun = executions.slice(beforeRestart);
      expect(
        rerun.filter((name) => recorded.has(name)),
        at,
      ).toEqual([]);
      expect(new Set(executions), at).toEqual(allActivities);
    }
  });
});
