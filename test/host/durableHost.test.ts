import { beforeAll, describe, expect, it } from 'vitest';
import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import { DurableHost } from '../../local/host/durableHost.js';
import { registrations } from '../../local/host/registry.js';
import { installFunctionsCore } from '../../local/host/sdkPatches.js';
import { settleWindow } from '../../functions/windows.js';

/**
 * The local host against orchestrators written for this test (registered through the same df.app calls the
 * app uses): replay, retries, timers, sub-orchestrations, continueAsNew, and the strict checks.
 */

let flaky = 0;
let flip = false;

beforeAll(() => {
  installFunctionsCore();
  df.app.activity('t_double', { handler: (n: unknown) => (n as number) * 2 });
  df.app.activity('t_flaky', {
    handler: () => {
      if (++flaky < 3) throw new Error(`transient ${flaky}`);
      return 'ok';
    },
  });
  df.app.orchestration('t_fanOut', function* (context: OrchestrationContext) {
    const n = context.df.getInput() as number;
    const results = (yield context.df.Task.all(
      Array.from({ length: n }, (_, i) => context.df.callActivity('t_double', i)),
    )) as number[];
    return results.reduce((a, b) => a + b, 0);
  });
  df.app.orchestration('t_retry', function* (context: OrchestrationContext) {
    const options = new df.RetryOptions(1000, 5);
    return yield context.df.callActivityWithRetry('t_flaky', options, null);
  });
  df.app.orchestration('t_timer', function* (context: OrchestrationContext) {
    const start = context.df.currentUtcDateTime.getTime();
    yield context.df.createTimer(new Date(start + 24 * 3600_000));
    return context.df.currentUtcDateTime.getTime() - start;
  });
  df.app.orchestration('t_parent', function* (context: OrchestrationContext) {
    const a = (yield context.df.callSubOrchestrator('t_fanOut', 3)) as number;
    const b = (yield context.df.callSubOrchestrator('t_fanOut', 4, 'explicit-child')) as number;
    return a + b;
  });
  df.app.orchestration('t_eternal', function* (context: OrchestrationContext) {
    const round = context.df.getInput() as number;
    yield context.df.callActivity('t_double', round);
    if (round < 5) {
      context.df.continueAsNew(round + 1);
      return undefined;
    }
    return round;
  });
  df.app.activity('t_failsOnOdd', {
    handler: (n: unknown) => {
      if ((n as number) % 2) throw new Error(`odd ${n as number}`);
      return n;
    },
  });
  df.app.orchestration('t_window', function* (context: OrchestrationContext) {
    const failures = yield* settleWindow(
      context,
      [0, 1, 2, 3].map((n) => context.df.callActivity('t_failsOnOdd', n)),
    );
    const next = (yield context.df.callActivity('t_double', 21)) as number;
    return { failures, next };
  });
  df.app.orchestration('t_nondeterministic', function* (context: OrchestrationContext) {
    flip = !flip;
    yield context.df.callActivity('t_double', flip ? 1 : 2);
    yield context.df.callActivity('t_double', 3);
    return 'unreachable';
  });
  df.app.orchestration('t_slidingWindow', function* (context: OrchestrationContext) {
    // The durable-js #574 pattern: re-yielding pending tasks inside a new Task.any.
    const pending = [context.df.callActivity('t_double', 1), context.df.callActivity('t_double', 2)];
    const first = (yield context.df.Task.any(pending)) as unknown;
    yield context.df.Task.any(pending.filter((t) => t !== first));
    return 'done';
  });
});

function host(clock: 'virtual' | 'real' = 'virtual') {
  return new DurableHost({ registrations, clock, maxConcurrentActivities: 4 });
}

describe('DurableHost', () => {
  it('fans out and in with bounded activity concurrency', async () => {
    const h = host();
    const id = h.startNew('t_fanOut', { input: 50 });
    const status = await h.waitForCompletion(id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 2450 });
    expect(h.stats.maxInflightActivities).toBeLessThanOrEqual(4);
  });

  it('retries a failing activity on durable timers', async () => {
    flaky = 0;
    const h = host();
    const status = await h.waitForCompletion(h.startNew('t_retry'));
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'ok' });
    expect(flaky).toBe(3);
  });

  it('fires timers (the virtual clock jumps a day at once)', async () => {
    const h = host();
    const status = await h.waitForCompletion(h.startNew('t_timer'));
    expect(status.output).toBe(24 * 3600_000);
  });

  it('runs sub-orchestrations with generated and explicit instance ids', async () => {
    const h = host();
    const status = await h.waitForCompletion(h.startNew('t_parent'));
    expect(status.output).toBe(6 + 12);
    expect(h.getStatus('explicit-child')?.runtimeStatus).toBe('Completed');
  });

  it('lets go of a finished child’s history and payloads when told to, keeping its status and counts', async () => {
    const kept = host();
    await kept.waitForCompletion(kept.startNew('t_parent'));
    const released = new DurableHost({ registrations, clock: 'virtual', releaseFinishedChildren: true });
    const parent = released.startNew('t_parent');
    expect((await released.waitForCompletion(parent)).output).toBe(6 + 12);
    const child = released.getStatus('explicit-child', { showHistory: true })!;
    expect(child).toMatchObject({ runtimeStatus: 'Completed', history: [], input: undefined, output: undefined });
    expect(kept.getStatus('explicit-child', { showHistory: true })!.history!.length).toBeGreaterThan(0);
    // Its counts are what they were; the parent, which has none, keeps everything.
    expect(released.historyStats('explicit-child')).toEqual(kept.historyStats('explicit-child'));
    expect(released.getStatus(parent, { showHistory: true })!.history!.length).toBeGreaterThan(0);
  });

  it('continues as new with fresh history each generation', async () => {
    const h = host();
    const id = h.startNew('t_eternal', { input: 0 });
    const status = await h.waitForCompletion(id);
    expect(status.output).toBe(5);
    expect(h.historyStats(id)).toMatchObject({ generations: 6 });
    expect(h.historyStats(id)!.maxHistoryLength).toBeLessThan(12);
  });

  it('fails an orchestrator whose replay diverges', async () => {
    const h = host();
    const status = await h.waitForCompletion(h.startNew('t_nondeterministic'));
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toMatch(/Non-deterministic replay/);
  });

  it('fails the sliding-window Task.any pattern (durable-js #574)', async () => {
    const h = host();
    const status = await h.waitForCompletion(h.startNew('t_slidingWindow'));
    expect(status.runtimeStatus).toBe('Failed');
    expect(String(status.output)).toMatch(/#574/);
  });

  it('settles a window with failures: each failure named, the rest done, the next step after all of them', async () => {
    const h = host();
    const status = await h.waitForCompletion(h.startNew('t_window'));
    expect(status.runtimeStatus).toBe('Completed');
    const output = status.output as { failures: Array<{ index: number; reason: string }>; next: number };
    expect(output.failures.map((f) => f.index)).toEqual([1, 3]);
    expect(output.failures[0]!.reason).toMatch(/odd 1/);
    expect(output.next).toBe(42);
  });

  it('refuses a second start of a running instance id', () => {
    const h = host('real');
    h.startNew('t_timer', { instanceId: 'once' });
    expect(() => h.startNew('t_timer', { instanceId: 'once' })).toThrow(/already exists/);
    h.close();
  });
});
