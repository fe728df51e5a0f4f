import type { HttpResponse, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ActivityRunner } from './activities.js';
import type { ActivityFault } from './activityFaults.js';
import { InMemoryDurableClient } from './durableClient.js';
import { HubWriter } from './hubWriter.js';
import type { ExecutionRef, HistoryStats, InstanceStatus } from './instances.js';
import {
  httpTriggerRequest,
  invocationContext,
  timerTriggerPayload,
  type HostLog,
  type HttpInvocation,
} from './invocation.js';
import { Orchestrations, type StartOptions } from './orchestrations.js';
import type { NewEvent } from './protocol.js';
import { findRegistration, type Registration } from './registry.js';
import { installDurableClient } from './sdkPatches.js';
import { emptyHostStats, type HostStats } from './stats.js';
import type { TaskHub } from './taskHub.js';
import { DurableTimers, type ClockMode } from './timers.js';

export type { ActivityFault } from './activityFaults.js';
export { InMemoryDurableClient } from './durableClient.js';
export type { HistoryStats, InstanceStatus, RuntimeStatus } from './instances.js';
export type { HostStats } from './stats.js';
export { MemoryTaskHub, type TaskHub } from './taskHub.js';

export interface DurableHostOptions {
  registrations: Map<string, Registration>;
  /** Like host.json's maxConcurrentActivityFunctions. */
  maxConcurrentActivities?: number;
  /** 'virtual' jumps to the next timer whenever nothing else can run (tests); 'real' waits for it. */
  clock?: ClockMode;
  /** Fail an instance whose replay diverges from its previous actions (non-determinism, durable-js #574). */
  strict?: boolean;
  /** Where instances and histories are kept so that a restarted host resumes them (memory only when absent). */
  taskHub?: TaskHub;
  log?: HostLog;
  /**
   * Lets go of a sub-orchestration's history, input and output once it has finished and its parent holds its
   * result, keeping its status, custom status and history counts: in Azure the task hub's tables hold finished
   * instances, not the worker's memory, so a bench that measures the worker's memory sets this.
   */
  releaseFinishedChildren?: boolean;
  /**
   * This host's task hub is not the one the vault's work runs in (the CLI run in-process beside a deployed app):
   * an instance it does not know may be running there, so asking for one is an error that says so
   * (`InstanceNotTracked`), not a 404 that maintenance would take for "never started".
   */
  knowsOnlyItsOwnInstances?: boolean;
}

/**
 * An in-process Durable Functions host: it drives the app's real orchestrator handlers through the
 * durable-functions v3 replay engine with the same out-of-process protocol the Functions host uses (history
 * in, OrchestratorState out), runs activities with bounded concurrency, fires timers, runs sub-orchestrations
 * and continueAsNew, and hands the app a durable client. With a task hub (./taskHub.ts; Azurite under `npm
 * start`) it keeps instances, histories and pending work there, and recover() resumes them after a restart.
 *
 * This class wires the parts together and is the API tests and the local app use: ./orchestrations.ts (instance
 * lifecycle, with ./workQueue.ts, ./replay.ts, ./determinism.ts, ./dispatch.ts), ./activities.ts, ./timers.ts,
 * ./durableClient.ts. What it patches in the SDKs is all in ./sdkPatches.ts.
 */
export class DurableHost {
  readonly stats: HostStats = emptyHostStats();
  readonly client: InMemoryDurableClient;
  private readonly registrations: Map<string, Registration>;
  private readonly log: HostLog;
  private readonly timers: DurableTimers;
  private readonly activities: ActivityRunner;
  private readonly orchestrations: Orchestrations;
  private readonly taskHub: TaskHub | undefined;

  constructor(options: DurableHostOptions) {
    this.registrations = options.registrations;
    this.log = options.log ?? (() => {});
    this.taskHub = options.taskHub;
    const deliver = (execution: ExecutionRef, event: NewEvent) => this.orchestrations.deliver(execution, event);
    this.timers = new DurableTimers(options.clock ?? 'real', deliver);
    this.activities = new ActivityRunner({
      maxConcurrent: options.maxConcurrentActivities ?? 8,
      stats: this.stats,
      findActivity: (name) => this.registration(name, 'activityTrigger'),
      contextFor: (reg) => this.context(reg),
      deliver,
      settled: () => this.orchestrations.kick(),
    });
    this.orchestrations = new Orchestrations({
      stats: this.stats,
      strict: options.strict ?? true,
      timers: this.timers,
      activities: this.activities,
      writer: new HubWriter(options.taskHub, this.log),
      findOrchestrator: (name) => this.registration(name, 'orchestrationTrigger'),
      contextFor: (reg) => this.context(reg),
      releaseFinishedChildren: options.releaseFinishedChildren ?? false,
    });
    this.client = new InMemoryDurableClient(this, options.knowsOnlyItsOwnInstances ?? false);
  }

  now(): Date {
    return this.timers.now();
  }

  registration(name: string, triggerType: string): Registration | undefined {
    return findRegistration(this.registrations, name, triggerType);
  }

  /** Makes `df.getClient(context)` and every `df.app.client.*` handler receive this host's client. */
  installDurableClient(): void {
    installDurableClient(this.client);
  }

  injectActivityFault(fault: ActivityFault): void {
    this.activities.faults.add(fault);
  }

  /**
   * Reads the task hub and resumes every unfinished instance where its history ends (activities that were
   * running run again); finished ones answer status queries again. Call once, before starting anything.
   */
  async recover(): Promise<{ instances: number; resumed: number }> {
    const executions = (await this.taskHub?.load()) ?? [];
    this.orchestrations.resume(executions);
    const resumed = this.listInstances().filter((i) => i.runtimeStatus === 'Pending' || i.runtimeStatus === 'Running');
    return { instances: executions.length, resumed: resumed.length };
  }

  // ---------------------------------------------------------------- client side

  startNew(name: string, options: StartOptions = {}): string {
    return this.orchestrations.start(name, options);
  }

  raiseEvent(instanceId: string, eventName: string, data?: unknown): void {
    this.orchestrations.raiseEvent(instanceId, eventName, data);
  }

  terminate(instanceId: string, reason?: string): void {
    this.orchestrations.terminate(instanceId, reason);
  }

  /** Resolves once what was asked of this instance so far (start, events, terminate) is in the task hub. */
  persisted(instanceId: string): Promise<void> {
    return this.orchestrations.persisted(instanceId);
  }

  getStatus(instanceId: string, options: { showHistory?: boolean } = {}): InstanceStatus | undefined {
    return this.orchestrations.store.status(instanceId, options);
  }

  listInstances(): InstanceStatus[] {
    return this.orchestrations.store.list();
  }

  /** Per instance: generations (continueAsNew), the longest history one reached, and all their events. */
  historyStats(instanceId: string): HistoryStats | undefined {
    return this.orchestrations.store.historyStats(instanceId);
  }

  waitForCompletion(instanceId: string): Promise<InstanceStatus> {
    return this.orchestrations.store.waitForCompletion(instanceId);
  }

  /** Resolves when nothing can run (instances may still wait on real timers or events). */
  idle(): Promise<void> {
    return this.orchestrations.idle();
  }

  /** Stops firing timers; running work finishes on its own. */
  close(): void {
    this.timers.close();
  }

  // ---------------------------------------------------------------- triggers

  async invokeHttp(name: string, init: HttpInvocation): Promise<HttpResponseInit | HttpResponse> {
    const reg = this.registration(name, 'httpTrigger');
    if (!reg) throw new Error(`No HTTP function '${name}'`);
    return (await reg.callback(httpTriggerRequest(init), this.context(reg))) as HttpResponseInit;
  }

  async invokeTimer(name: string, isPastDue = false): Promise<void> {
    const reg = this.registration(name, 'timerTrigger');
    if (!reg) throw new Error(`No timer function '${name}'`);
    await reg.callback(timerTriggerPayload(this.now(), isPastDue), this.context(reg));
  }

  private context(reg: Registration): InvocationContext {
    return invocationContext(reg, this.log);
  }
}
