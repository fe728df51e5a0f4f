import { randomUUID } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { ActivityRunner } from './activities.js';
import { checkDeterminism } from './determinism.js';
import { ActionDispatcher } from './dispatch.js';
import {
  beginExecution,
  InstanceStore,
  isTerminal,
  type ExecutionRef,
  type Instance,
  type ParentLink,
  type RuntimeStatus,
} from './instances.js';
import {
  ActionType,
  EventType,
  decodeProcessed,
  failureEvent,
  flattenActions,
  roundtrip,
  wire,
  type NewEvent,
  type OrchestratorState,
} from './protocol.js';
import type { Registration } from './registry.js';
import { beginEpisode, endEpisode, replayOrchestrator } from './replay.js';
import { openTasksOf } from './sdkPatches.js';
import type { HostStats } from './stats.js';
import type { DurableTimers } from './timers.js';
import { WorkQueue } from './workQueue.js';

export interface OrchestrationsOptions {
  stats: HostStats;
  /** Fail an instance whose replay diverges from its previous actions (see ./determinism.ts). */
  strict: boolean;
  timers: DurableTimers;
  activities: ActivityRunner;
  findOrchestrator(name: string): Registration | undefined;
  contextFor(reg: Registration): InvocationContext;
}

export interface StartOptions {
  input?: unknown;
  instanceId?: string;
}

/**
 * The life of orchestration instances: started, fed events, replayed one episode per batch of events, and ended
 * (completed, failed, terminated or continued as new) with waiters and parent orchestrations told.
 */
export class Orchestrations {
  readonly store = new InstanceStore();
  private readonly queue: WorkQueue;
  private readonly dispatcher: ActionDispatcher;

  constructor(private readonly options: OrchestrationsOptions) {
    const { timers, activities } = options;
    this.queue = new WorkQueue({ timers, activities, runEpisode: (instance) => this.timedEpisode(instance) });
    this.dispatcher = new ActionDispatcher({
      timers,
      activities,
      deliver: (execution, event) => this.deliver(execution, event),
      startChild: (name, input, instanceId, parent) => {
        this.start(name, { input, instanceId }, parent);
      },
    });
  }

  start(name: string, options: StartOptions = {}, parent?: ParentLink): string {
    const reg = this.options.findOrchestrator(name);
    if (!reg) throw new Error(`No orchestrator named '${name}' is registered`);
    const instanceId = options.instanceId ?? randomUUID().replace(/-/g, '');
    const now = this.options.timers.now();
    const instance = this.store.create(reg, instanceId, roundtrip(options.input), parent, now);
    this.options.timers.cancelAll(instanceId);
    this.enqueue(instance, startedEvent(reg.name, options.input));
    return instanceId;
  }

  raiseEvent(instanceId: string, eventName: string, data?: unknown): void {
    const instance = this.store.get(instanceId);
    if (!instance) throw new Error(`No instance '${instanceId}'`);
    if (!isTerminal(instance.status))
      this.enqueue(instance, { EventType: EventType.EventRaised, Name: eventName, Input: wire(data) });
  }

  terminate(instanceId: string, reason?: string): void {
    const instance = this.store.get(instanceId);
    if (instance && !isTerminal(instance.status)) this.finish(instance, 'Terminated', reason ?? 'Terminated');
  }

  /** An event for one execution; dropped once that execution is over (finished or continued as new). */
  deliver(execution: ExecutionRef, event: NewEvent): void {
    const instance = this.store.get(execution.instanceId);
    if (instance && instance.executionId === execution.executionId && !isTerminal(instance.status))
      this.enqueue(instance, event);
  }

  /** Lets the work queue look again (an activity settled, so the virtual clock may move). */
  kick(): void {
    this.queue.kick();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private enqueue(instance: Instance, event: NewEvent): void {
    instance.inbox.push({ EventId: -1, IsPlayed: false, Timestamp: this.options.timers.now(), ...event });
    this.queue.add(instance);
  }

  private async timedEpisode(instance: Instance): Promise<void> {
    const clockStart = performance.now();
    try {
      await this.runEpisode(instance);
    } finally {
      this.options.stats.episodeMs += performance.now() - clockStart;
    }
  }

  private async runEpisode(instance: Instance): Promise<void> {
    const { stats, timers } = this.options;
    stats.episodes++;
    const startedAt = timers.now();
    stats.replayedEvents += beginEpisode(instance, startedAt);
    const context = this.options.contextFor(instance.reg);
    const { state, failed } = await replayOrchestrator(instance, context);
    if (state.customStatus !== undefined) instance.customStatus = roundtrip(state.customStatus);
    instance.lastUpdatedTime = startedAt;
    if (this.endIfOver(instance, state, failed)) return;
    instance.status = 'Running';
    this.dispatcher.dispatchOpenTasks(instance, openTasksOf(context));
    endEpisode(instance, startedAt);
  }

  /** Ends the execution if the episode diverged, failed, completed or continued as new; says whether it did. */
  private endIfOver(instance: Instance, state: OrchestratorState, failed: boolean): boolean {
    const divergence = this.options.strict ? checkDeterminism(instance, state) : undefined;
    if (divergence) this.finish(instance, 'Failed', `[local host] ${divergence}`);
    else if (failed) this.finish(instance, 'Failed', state.error ?? 'The orchestrator failed');
    else if (!state.isDone) return false;
    else {
      const continued = flattenActions(state.actions).find((a) => a.actionType === ActionType.ContinueAsNew);
      if (continued) this.continueAsNew(instance, decodeProcessed(continued.input));
      else this.finish(instance, 'Completed', state.output);
    }
    return true;
  }

  private continueAsNew(instance: Instance, input: unknown): void {
    instance.input = roundtrip(input);
    instance.generations++;
    this.options.timers.cancelAll(instance.instanceId);
    beginExecution(instance);
    instance.status = 'Running';
    this.enqueue(instance, startedEvent(instance.name, input));
  }

  private finish(instance: Instance, status: RuntimeStatus, outputOrError: unknown): void {
    instance.status = status;
    instance.lastUpdatedTime = this.options.timers.now();
    this.options.timers.cancelAll(instance.instanceId);
    instance.output = status === 'Completed' ? roundtrip(outputOrError) : outputOrError;
    if (instance.parent) this.reportToParent(instance, instance.parent, outputOrError);
    instance.completionWaiters.splice(0).forEach((resolve) => resolve());
  }

  private reportToParent(instance: Instance, parent: ParentLink, outputOrError: unknown): void {
    if (instance.status === 'Completed') {
      const event = { EventType: EventType.SubOrchestrationInstanceCompleted, TaskScheduledId: parent.taskId };
      this.deliver(parent, { ...event, Result: wire(outputOrError) });
      return;
    }
    const what = `Orchestrator function '${instance.name}'`;
    const error = new Error(String(outputOrError));
    this.deliver(parent, failureEvent(EventType.SubOrchestrationInstanceFailed, parent.taskId, what, error));
  }
}

function startedEvent(name: string, input: unknown): NewEvent {
  return { EventType: EventType.ExecutionStarted, Name: name, Input: wire(input), Version: '' };
}
