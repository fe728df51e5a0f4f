import type { InvocationContext } from '@azure/functions';
import { ActivityFaults } from './activityFaults.js';
import type { ExecutionRef } from './instances.js';
import { EventType, failureEvent, roundtrip, wire, type NewEvent } from './protocol.js';
import type { Registration } from './registry.js';
import { Semaphore } from './semaphore.js';
import { recordActivityTime, type HostStats } from './stats.js';

export interface ActivityRunnerOptions {
  /** Like host.json's maxConcurrentActivityFunctions. */
  maxConcurrent: number;
  stats: HostStats;
  findActivity(name: string): Registration | undefined;
  contextFor(reg: Registration): InvocationContext;
  /** Hands the TaskCompleted / TaskFailed event to the orchestration that scheduled the activity. */
  deliver(execution: ExecutionRef, event: NewEvent): void;
  /** Called after each activity, once it no longer counts as in flight. */
  settled(): void;
}

/** Runs scheduled activities, at most `maxConcurrent` at once, and turns each outcome into a history event. */
export class ActivityRunner {
  readonly faults = new ActivityFaults();
  private readonly semaphore: Semaphore;
  /** Scheduled and not yet settled, waiting for a slot or running. */
  private scheduled = 0;
  private running = 0;

  constructor(private readonly options: ActivityRunnerOptions) {
    this.semaphore = new Semaphore(options.maxConcurrent);
  }

  get inflight(): number {
    return this.scheduled;
  }

  start(execution: ExecutionRef, taskId: number, name: string, input: unknown): void {
    const { instanceId, executionId } = execution;
    this.scheduled++;
    void this.semaphore
      .run(() => this.run({ instanceId, executionId }, taskId, name, input))
      .finally(() => {
        this.scheduled--;
        this.options.settled();
      });
  }

  private async run(execution: ExecutionRef, taskId: number, name: string, input: unknown): Promise<void> {
    const { stats } = this.options;
    stats.activities++;
    this.running++;
    stats.maxInflightActivities = Math.max(stats.maxInflightActivities, this.running);
    stats.runningByName[name] = (stats.runningByName[name] ?? 0) + 1;
    const clockStart = performance.now();
    const event = await this.outcome(taskId, name, input);
    recordActivityTime(stats, name, performance.now() - clockStart);
    stats.runningByName[name]!--;
    this.running--;
    this.options.deliver(execution, event);
  }

  private async outcome(taskId: number, name: string, input: unknown): Promise<NewEvent> {
    try {
      const reg = this.options.findActivity(name);
      if (!reg) throw new Error(`The function '${name}' doesn't exist, is disabled, or is not an activity function.`);
      if (this.faults.take(name, 'before', input))
        throw new Error(`[injected] the worker running '${name}' stopped before it ran`);
      const result = await reg.callback(roundtrip(input), this.options.contextFor(reg));
      if (this.faults.take(name, 'after', input))
        throw new Error(`[injected] the worker running '${name}' stopped before reporting its result`);
      return { EventType: EventType.TaskCompleted, TaskScheduledId: taskId, Result: wire(result) };
    } catch (error) {
      return failureEvent(EventType.TaskFailed, taskId, `Activity function '${name}'`, error);
    }
  }
}
