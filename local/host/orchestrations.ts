import { randomUUID } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { ActivityRunner } from './activities.js';
import { checkDeterminism } from './determinism.js';
import { ActionDispatcher, type Effect } from './dispatch.js';
import type { HubWriter } from './hubWriter.js';
import {
  beginExecution,
  InstanceStore,
  isTerminal,
  releaseFinished,
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
import { rebuildInstance, startedEvent, unfinishedWork } from './recovery.js';
import { beginEpisode, endEpisode, replayOrchestrator } from './replay.js';
import { openTasksOf } from './sdkPatches.js';
import type { HostStats } from './stats.js';
import type { StoredExecution } from './taskHub.js';
import type { DurableTimers } from './timers.js';
import { WorkQueue } from './workQueue.js';

export interface OrchestrationsOptions {
  stats: HostStats;
  /** Fail an instance whose replay diverges from its previous actions (see ./determinism.ts). */
  strict: boolean;
  timers: DurableTimers;
  activities: ActivityRunner;
  /** Where instances, histories and client events are kept (a no-op without a task hub). */
  writer: HubWriter;
  findOrchestrator(name: string): Registration | undefined;
  contextFor(reg: Registration): InvocationContext;
  /** See DurableHostOptions.releaseFinishedChildren. */
  releaseFinishedChildren?: boolean;
}

export interface StartOptions {
  input?: unknown;
  instanceId?: string;
}

/**
 * The life of orchestration instances: started, fed events, replayed one episode per batch of events, and ended
 * (completed, failed, terminated or continued as new) with waiters and parent orchestrations told.
 *
 * With a task hub, every change is written there before it is acted on: an episode's history before the work it
 * scheduled starts, an end before parents and waiters hear of it, a start or client event before the client's
 * call returns. Whatever is only in memory when the process dies (activity results, fired timers, finished
 * children not yet taken in) is produced again by resume(): the activity runs again, the timer fires again.
 */
export class Orchestrations {
  readonly store = new InstanceStore();
  private readonly queue: WorkQueue;
  private readonly dispatcher: ActionDispatcher;
  /** Episode commits written or being written whose effects have not run yet. */
  private unsettledCommits = 0;

  constructor(private readonly options: OrchestrationsOptions) {
    const { timers, activities } = options;
    this.queue = new WorkQueue({
      timers,
      busy: () => activities.inflight > 0 || this.unsettledCommits > 0,
      runEpisode: (instance) => this.timedEpisode(instance),
    });
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
    void this.writeBegun(instance);
    this.enqueue(instance, startedEvent({ name: reg.name, input: options.input }));
    return instanceId;
  }

  raiseEvent(instanceId: string, eventName: string, data?: unknown): void {
    const instance = this.store.get(instanceId);
    if (!instance) throw new Error(`No instance '${instanceId}'`);
    if (isTerminal(instance.status)) return;
    const event = { EventType: EventType.EventRaised, Name: eventName, Input: wire(data) };
    const seq = ++instance.acceptedSeq;
    void this.options.writer.append(instanceId, instance.logGeneration, { kind: 'event', seq, event });
    this.enqueue(instance, event);
  }

  terminate(instanceId: string, reason?: string): void {
    const instance = this.store.get(instanceId);
    if (instance && !isTerminal(instance.status)) this.finish(instance, 'Terminated', reason ?? 'Terminated');
  }

  /** Resolves once what the client asked of this instance so far is in the task hub. */
  persisted(instanceId: string): Promise<void> {
    return this.options.writer.settled(instanceId);
  }

  /** An event for one execution; dropped once that execution is over (finished or continued as new). */
  deliver(execution: ExecutionRef, event: NewEvent): void {
    const instance = this.store.get(execution.instanceId);
    if (instance && instance.executionId === execution.executionId && !isTerminal(instance.status))
      this.enqueue(instance, event);
  }

  /**
   * After a restart: rebuilds every instance the task hub holds and resumes the unfinished ones where their
   * history ends, running again the activities, timers and sub-orchestrations that have no outcome there.
   */
  resume(executions: StoredExecution[]): void {
    const resumed: Instance[] = [];
    for (const stored of executions) {
      const name = (stored.records[0] as { name: string }).name;
      const reg = this.options.findOrchestrator(name);
      if (!reg) continue; // An orchestrator this version of the app no longer has: its instance stays behind.
      const instance = rebuildInstance(stored, reg);
      this.store.restore(instance);
      if (!isTerminal(instance.status)) resumed.push(instance);
    }
    for (const instance of resumed) this.resumeWork(instance);
    this.queue.kick();
  }

  /** Lets the work queue look again (an activity settled, so the virtual clock may move). */
  kick(): void {
    this.queue.kick();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private resumeWork(instance: Instance): void {
    const { activities, timers, children } = unfinishedWork(instance.history);
    for (const a of activities) this.options.activities.start(instance, a.taskId, a.name, a.input);
    for (const t of timers) this.options.timers.schedule(instance, t.taskId, t.fireAt);
    for (const c of children) {
      const parent = { instanceId: instance.instanceId, executionId: instance.executionId, taskId: c.taskId };
      const child = this.store.get(c.instanceId);
      const ours = child?.parent && sameParent(child.parent, parent);
      if (!ours) this.dispatcher.startChild(c.name, c.input, c.instanceId, parent);
      else if (isTerminal(child.status)) this.reportToParent(child, parent, child.output);
    }
    if (instance.inbox.length > 0) this.queue.add(instance);
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
    const { executionId } = instance;
    const consumedThrough = instance.acceptedSeq;
    stats.replayedEvents += beginEpisode(instance, startedAt);
    const context = this.options.contextFor(instance.reg);
    const { state, failed } = await replayOrchestrator(instance, context);
    // Terminated while it replayed: the end is written already, this episode is void.
    if (isTerminal(instance.status) || instance.executionId !== executionId) return;
    if (state.customStatus !== undefined) instance.customStatus = roundtrip(state.customStatus);
    instance.lastUpdatedTime = startedAt;
    if (this.endIfOver(instance, state, failed, consumedThrough)) return;
    instance.status = 'Running';
    const effects = this.dispatcher.dispatchOpenTasks(instance, openTasksOf(context));
    endEpisode(instance, startedAt);
    this.commitEpisode(instance, consumedThrough, effects);
  }

  /**
   * Writes the episode's new history, then acts on what it scheduled, unless the execution ended or moved on
   * meanwhile. Not awaited: the pump replays other instances while the write is under way, so their writes go
   * out together.
   */
  private commitEpisode(instance: Instance, consumedThrough: number, effects: Effect[]): void {
    const { instanceId, executionId } = instance;
    this.unsettledCommits++;
    void this.writeEpisode(instance, consumedThrough).then(() => {
      this.unsettledCommits--;
      const current = this.store.get(instanceId);
      if (current === instance && instance.executionId === executionId && !isTerminal(instance.status))
        effects.forEach((effect) => effect());
      this.queue.kick();
    });
  }

  private writeEpisode(instance: Instance, consumedThrough: number): Promise<void> {
    const events = instance.history.slice(instance.committedEvents);
    instance.committedEvents = instance.history.length;
    return this.options.writer.append(instance.instanceId, instance.logGeneration, {
      kind: 'episode',
      events,
      customStatus: instance.customStatus,
      lastUpdatedTime: instance.lastUpdatedTime.toISOString(),
      consumedThrough,
    });
  }

  private writeBegun(instance: Instance): Promise<void> {
    return this.options.writer.begin(instance.instanceId, {
      kind: 'begun',
      name: instance.name,
      executionId: instance.executionId,
      input: instance.input,
      ...(instance.parent ? { parent: instance.parent } : {}),
      createdTime: instance.createdTime.toISOString(),
      generation: instance.logGeneration,
      generations: instance.generations,
    });
  }

  /** Ends the execution if the episode diverged, failed, completed or continued as new; says whether it did. */
  private endIfOver(instance: Instance, state: OrchestratorState, failed: boolean, consumedThrough: number): boolean {
    const divergence = this.options.strict ? checkDeterminism(instance, state) : undefined;
    if (!divergence && !failed && !state.isDone) return false;
    const continued = flattenActions(state.actions).find((a) => a.actionType === ActionType.ContinueAsNew);
    if (!divergence && !failed && continued) {
      this.continueAsNew(instance, decodeProcessed(continued.input));
      return true;
    }
    if (divergence) this.finish(instance, 'Failed', `[local host] ${divergence}`, consumedThrough);
    else if (failed) this.finish(instance, 'Failed', state.error ?? 'The orchestrator failed', consumedThrough);
    else this.finish(instance, 'Completed', state.output, consumedThrough);
    return true;
  }

  private continueAsNew(instance: Instance, input: unknown): void {
    instance.input = roundtrip(input);
    instance.generations++;
    instance.logGeneration++;
    this.options.timers.cancelAll(instance.instanceId);
    beginExecution(instance);
    instance.status = 'Running';
    void this.writeBegun(instance);
    this.enqueue(instance, startedEvent({ name: instance.name, input }));
  }

  /**
   * Ends the execution at once; parents and waiters hear of it once the end is in the task hub. The end is
   * written with the history of the episode that ended it (none for a terminate), in one write: an end without
   * its episode, or the episode without its end, would leave nothing to resume after a restart.
   */
  private finish(instance: Instance, status: RuntimeStatus, outputOrError: unknown, consumedThrough = 0): void {
    instance.status = status;
    instance.lastUpdatedTime = this.options.timers.now();
    this.options.timers.cancelAll(instance.instanceId);
    instance.output = status === 'Completed' ? roundtrip(outputOrError) : outputOrError;
    const events = instance.history.slice(instance.committedEvents);
    instance.committedEvents = instance.history.length;
    const ended = {
      kind: 'ended' as const,
      events,
      consumedThrough,
      status: status as 'Completed' | 'Failed' | 'Terminated',
      output: instance.output,
      lastUpdatedTime: instance.lastUpdatedTime.toISOString(),
    };
    const waiters = instance.completionWaiters.splice(0);
    this.unsettledCommits++;
    void this.options.writer.append(instance.instanceId, instance.logGeneration, ended).then(() => {
      this.unsettledCommits--;
      if (instance.parent) this.reportToParent(instance, instance.parent, outputOrError);
      waiters.forEach((resolve) => resolve());
      // Waiters took their status above (a snapshot), so it can go now.
      if (instance.parent && this.options.releaseFinishedChildren) releaseFinished(instance);
      this.queue.kick();
    });
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

const sameParent = (a: ParentLink, b: ParentLink): boolean =>
  a.instanceId === b.instanceId && a.executionId === b.executionId && a.taskId === b.taskId;
