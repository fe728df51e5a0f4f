import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import functions, {
  type HttpResponse,
  type HttpResponseInit,
  type InvocationContext as InvocationContextType,
} from '@azure/functions';
import type { Registration } from './registry.js';

// @azure/functions is CommonJS: Node's ESM loader offers its classes through the default export only.
const { HttpRequest, InvocationContext } = functions;
type InvocationContext = InvocationContextType;

/**
 * An in-process Durable Functions host: it drives the app's real orchestrator handlers through the
 * durable-functions v3 replay engine with the same out-of-process protocol the Functions host uses (history
 * in, OrchestratorState out), runs activities with bounded concurrency, fires timers, runs sub-orchestrations
 * and continueAsNew, and hands the app an in-memory durable client. See ../shared/durable-notes.md.
 */

const ET = {
  ExecutionStarted: 0,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventRaised: 15,
} as const;

const AT = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
} as const;

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';
const TERMINAL = new Set<RuntimeStatus>(['Completed', 'Failed', 'Terminated']);
const OUT_OF_PROC_MARK = '\n\n$OutOfProcData$:';

type HistoryEvent = Record<string, unknown> & {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: Date;
};

interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  retryOptions?: RetryOptionsShape;
  compoundActions?: Action[];
}

interface RetryOptionsShape {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
}

interface OpenTask {
  actionObj: Action | 'noOp';
  parent?: {
    isWaitingOnTimer: boolean;
    attemptNumber: number;
    retryOptions: RetryOptionsShape;
    innerTask: { actionObj: Action };
  };
}

interface OrchestratorState {
  isDone: boolean;
  actions: Action[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

interface Instance {
  instanceId: string;
  name: string;
  reg: Registration;
  input: unknown;
  parent?: { instanceId: string; executionId: string; taskId: number };
  status: RuntimeStatus;
  output: unknown;
  customStatus: unknown;
  createdTime: Date;
  lastUpdatedTime: Date;
  executionId: string;
  history: HistoryEvent[];
  inbox: HistoryEvent[];
  dispatched: Set<number>;
  queued: boolean;
  lastActionSignatures: string[];
  inflight: number;
  completionWaiters: Array<() => void>;
  /** Largest history one execution reached (continueAsNew resets it). */
  maxHistoryLength: number;
  generations: number;
}

export interface InstanceStatus {
  name: string;
  instanceId: string;
  createdTime: Date;
  lastUpdatedTime: Date;
  input: unknown;
  output: unknown;
  runtimeStatus: RuntimeStatus;
  customStatus: unknown;
  history?: HistoryEvent[];
}

/** Fault injection for tests: an activity that fails before it runs, or after it did its work (its result lost). */
export interface ActivityFault {
  activity: string;
  when: 'before' | 'after';
  times: number;
  /** Only inputs this returns true for. */
  match?: (input: unknown) => boolean;
}

export interface DurableHostOptions {
  registrations: Map<string, Registration>;
  /** Like host.json's maxConcurrentActivityFunctions. */
  maxConcurrentActivities?: number;
  /** 'virtual' jumps to the next timer whenever nothing else can run (tests); 'real' waits for it. */
  clock?: 'virtual' | 'real';
  /** Fail an instance whose replay diverges from its previous actions (non-determinism, durable-js #574). */
  strict?: boolean;
  log?: (level: string, functionName: string, ...args: unknown[]) => void;
}

export interface HostStats {
  episodes: number;
  replayedEvents: number;
  activities: number;
  maxInflightActivities: number;
  /** Time spent replaying orchestrators, and running each activity (by name). */
  episodeMs: number;
  activityMs: Record<string, { count: number; totalMs: number; maxMs: number }>;
}

const wire = (value: unknown) => (value === undefined ? 'null' : JSON.stringify(value));
const roundtrip = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));
/** durable-functions JSON-encodes string inputs of activities and continueAsNew (Utils.processInput). */
const decodeProcessed = (value: unknown) => (typeof value === 'string' ? (JSON.parse(value) as unknown) : value);

function flatten(actions: Action[][] | undefined): Action[] {
  const out: Action[] = [];
  const walk = (action: Action) => (action.compoundActions ? action.compoundActions.forEach(walk) : out.push(action));
  (actions ?? []).forEach((batch) => (batch ?? []).forEach(walk));
  return out;
}

function optionsFrom(metadata: Registration['metadata']) {
  const bindings = Object.values(metadata.bindings);
  return {
    trigger: bindings.find((b) => b.direction === 'in' && /Trigger$/.test(b.type)),
    extraInputs: bindings.filter((b) => b.direction === 'in' && !/Trigger$/.test(b.type)),
    extraOutputs: bindings.filter((b) => b.direction === 'out' && b.name !== '$return'),
    return: metadata.bindings.$return,
  };
}

function failureEvent(
  type: number,
  taskId: number,
  what: string,
  error: unknown,
): Record<string, unknown> & { EventType: number } {
  const e = error instanceof Error ? error : new Error(typeof error === 'string' ? error : JSON.stringify(error));
  return {
    EventType: type,
    TaskScheduledId: taskId,
    Reason: `${what} failed: ${e.message}`,
    Details: e.stack ?? e.message,
    FailureDetails: {
      ErrorType: e.name || 'Error',
      ErrorMessage: e.message,
      StackTrace: e.stack ?? '',
      IsNonRetriable: false,
    },
  };
}

/** DTFx RetryInterceptor's delay, including its zero-delay "dummy timer" after the last attempt. */
function retryDelayMs(options: RetryOptionsShape, failedAttempts: number): number {
  if (failedAttempts >= options.maxNumberOfAttempts) return 0;
  const delay =
    options.firstRetryIntervalInMilliseconds * Math.pow(options.backoffCoefficient || 1, failedAttempts - 1);
  return options.maxRetryIntervalInMilliseconds ? Math.min(delay, options.maxRetryIntervalInMilliseconds) : delay;
}

class Semaphore {
  private free: number;
  private readonly waiters: Array<() => void> = [];
  constructor(count: number) {
    this.free = count;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiters.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.free++;
    }
  }
}

export class DurableHost {
  readonly stats: HostStats = {
    episodes: 0,
    replayedEvents: 0,
    activities: 0,
    maxInflightActivities: 0,
    episodeMs: 0,
    activityMs: {},
  };
  readonly client: InMemoryDurableClient;
  private readonly registrations: Map<string, Registration>;
  private readonly semaphore: Semaphore;
  private readonly clock: 'virtual' | 'real';
  private readonly strict: boolean;
  private readonly log: NonNullable<DurableHostOptions['log']>;
  private readonly instances = new Map<string, Instance>();
  private runQueue: Instance[] = [];
  private timers: Array<{
    instanceId: string;
    executionId: string;
    id: number;
    fireAt: Date;
    handle?: NodeJS.Timeout;
  }> = [];
  private inflight = 0;
  private runningActivities = 0;
  private pumping = false;
  private pumpScheduled = false;
  private idleWaiters: Array<() => void> = [];
  private virtualNow = Date.now();
  private faults: ActivityFault[] = [];
  private closed = false;

  constructor(options: DurableHostOptions) {
    this.registrations = options.registrations;
    this.semaphore = new Semaphore(options.maxConcurrentActivities ?? 8);
    this.clock = options.clock ?? 'real';
    this.strict = options.strict ?? true;
    this.log = options.log ?? (() => {});
    this.client = new InMemoryDurableClient(this);
  }

  now(): Date {
    return this.clock === 'virtual' ? new Date(this.virtualNow) : new Date();
  }

  registration(name: string, triggerType: string): Registration | undefined {
    const reg = this.registrations.get(name.toLowerCase());
    return reg && reg.triggerType === triggerType ? reg : undefined;
  }

  /** Makes `df.getClient(context)` and every `df.app.client.*` handler receive this host's client. */
  installDurableClient(): void {
    const require = createRequire(import.meta.url);
    const module = require('durable-functions/lib/src/durableClient/getClient') as { getClient: unknown };
    module.getClient = () => this.client;
  }

  injectActivityFault(fault: ActivityFault): void {
    this.faults.push({ ...fault });
  }

  private context(reg: Registration): InvocationContext {
    return new InvocationContext({
      invocationId: randomUUID(),
      functionName: reg.name,
      options: optionsFrom(reg.metadata) as never,
      logHandler: (level, ...args) => this.log(level, reg.name, ...args),
    });
  }

  // ---------------------------------------------------------------- client side

  startNew(name: string, options: { input?: unknown; instanceId?: string } = {}, parent?: Instance['parent']): string {
    const reg = this.registration(name, 'orchestrationTrigger');
    if (!reg) throw new Error(`No orchestrator named '${name}' is registered`);
    const instanceId = options.instanceId ?? randomUUID().replace(/-/g, '');
    const old = this.instances.get(instanceId);
    if (old && !TERMINAL.has(old.status))
      throw new Error(`An instance with ID '${instanceId}' already exists and is ${old.status}`);
    const ts = this.now();
    const instance: Instance = {
      instanceId,
      name: reg.name,
      reg,
      input: roundtrip(options.input),
      ...(parent ? { parent } : {}),
      status: 'Pending',
      output: undefined,
      customStatus: null,
      createdTime: ts,
      lastUpdatedTime: ts,
      executionId: '',
      history: [],
      inbox: [],
      dispatched: new Set(),
      queued: false,
      lastActionSignatures: [],
      inflight: 0,
      completionWaiters: old?.completionWaiters ?? [],
      maxHistoryLength: 0,
      generations: 1,
    };
    this.resetExecution(instance);
    this.instances.set(instanceId, instance);
    this.enqueue(instance, { EventType: ET.ExecutionStarted, Name: reg.name, Input: wire(options.input), Version: '' });
    return instanceId;
  }

  raiseEvent(instanceId: string, eventName: string, data?: unknown): void {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new Error(`No instance '${instanceId}'`);
    if (!TERMINAL.has(instance.status))
      this.enqueue(instance, { EventType: ET.EventRaised, Name: eventName, Input: wire(data) });
  }

  terminate(instanceId: string, reason?: string): void {
    const instance = this.instances.get(instanceId);
    if (instance && !TERMINAL.has(instance.status)) this.finish(instance, 'Terminated', reason ?? 'Terminated');
  }

  getStatus(instanceId: string, options: { showHistory?: boolean } = {}): InstanceStatus | undefined {
    const i = this.instances.get(instanceId);
    if (!i) return undefined;
    return {
      name: i.name,
      instanceId,
      createdTime: i.createdTime,
      lastUpdatedTime: i.lastUpdatedTime,
      input: i.input,
      output: i.output,
      runtimeStatus: i.status,
      customStatus: i.customStatus,
      ...(options.showHistory ? { history: i.history } : {}),
    };
  }

  listInstances(): InstanceStatus[] {
    return [...this.instances.keys()].map((id) => this.getStatus(id)!);
  }

  /** Per instance: generations (continueAsNew) and the longest history one generation reached. */
  historyStats(instanceId: string): { generations: number; maxHistoryLength: number } | undefined {
    const i = this.instances.get(instanceId);
    return i ? { generations: i.generations, maxHistoryLength: i.maxHistoryLength } : undefined;
  }

  waitForCompletion(instanceId: string): Promise<InstanceStatus> {
    const i = this.instances.get(instanceId);
    if (!i) return Promise.reject(new Error(`No instance '${instanceId}'`));
    if (TERMINAL.has(i.status)) return Promise.resolve(this.getStatus(instanceId)!);
    return new Promise((resolve) => i.completionWaiters.push(() => resolve(this.getStatus(instanceId)!)));
  }

  /** Resolves when nothing can run (instances may still wait on real timers or events). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.kick();
    });
  }

  /** Stops firing timers; running work finishes on its own. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer.handle);
    this.timers = [];
  }

  // ---------------------------------------------------------------- triggers

  async invokeHttp(
    name: string,
    init: {
      method: string;
      url: string;
      body?: string;
      headers?: Record<string, string>;
      params?: Record<string, string>;
    },
  ): Promise<HttpResponseInit | HttpResponse> {
    const reg = this.registration(name, 'httpTrigger');
    if (!reg) throw new Error(`No HTTP function '${name}'`);
    const request = new HttpRequest({
      method: init.method,
      url: init.url,
      headers: init.headers ?? {},
      params: init.params ?? {},
      ...(init.body !== undefined && init.method !== 'GET' && init.method !== 'HEAD'
        ? { body: { string: init.body } }
        : {}),
    });
    return (await reg.callback(request, this.context(reg))) as HttpResponseInit;
  }

  async invokeTimer(name: string, isPastDue = false): Promise<void> {
    const reg = this.registration(name, 'timerTrigger');
    if (!reg) throw new Error(`No timer function '${name}'`);
    const iso = this.now().toISOString();
    await reg.callback(
      { isPastDue, schedule: { adjustForDST: true }, scheduleStatus: { last: iso, next: iso, lastUpdated: iso } },
      this.context(reg),
    );
  }

  // ---------------------------------------------------------------- engine

  private resetExecution(instance: Instance): void {
    this.timers = this.timers.filter((t) => {
      if (t.instanceId !== instance.instanceId) return true;
      clearTimeout(t.handle);
      return false;
    });
    Object.assign(instance, {
      executionId: randomUUID(),
      history: [],
      inbox: [],
      dispatched: new Set(),
      queued: false,
      lastActionSignatures: [],
      inflight: 0,
    });
  }

  private enqueue(instance: Instance, event: Record<string, unknown> & { EventType: number }): void {
    instance.inbox.push({ EventId: -1, IsPlayed: false, Timestamp: this.now(), ...event });
    if (!instance.queued) {
      instance.queued = true;
      this.runQueue.push(instance);
    }
    this.kick();
  }

  private deliver(
    instanceId: string,
    executionId: string,
    event: Record<string, unknown> & { EventType: number },
  ): void {
    const instance = this.instances.get(instanceId);
    if (instance && instance.executionId === executionId && !TERMINAL.has(instance.status))
      this.enqueue(instance, event);
  }

  private kick(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => void this.pump());
  }

  private async pump(): Promise<void> {
    this.pumpScheduled = false;
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const instance = this.runQueue.shift();
        if (instance) {
          instance.queued = false;
          if (TERMINAL.has(instance.status) || instance.inbox.length === 0) continue;
          await this.episode(instance);
          continue;
        }
        if (this.clock === 'virtual' && this.inflight === 0 && this.timers.length && !this.closed) {
          this.fireEarliestTimer();
          continue;
        }
        break;
      }
    } finally {
      this.pumping = false;
    }
    if (this.inflight === 0 && this.runQueue.length === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  private fireEarliestTimer(): void {
    this.timers.sort((a, b) => a.fireAt.getTime() - b.fireAt.getTime());
    this.virtualNow = Math.max(this.virtualNow, this.timers[0]!.fireAt.getTime());
    while (this.timers.length && this.timers[0]!.fireAt.getTime() <= this.virtualNow) {
      const timer = this.timers.shift()!;
      this.deliver(timer.instanceId, timer.executionId, {
        EventType: ET.TimerFired,
        TimerId: timer.id,
        FireAt: timer.fireAt,
      });
    }
  }

  private async episode(instance: Instance): Promise<void> {
    const clockStart = performance.now();
    try {
      await this.runEpisode(instance);
    } finally {
      this.stats.episodeMs += performance.now() - clockStart;
    }
  }

  private async runEpisode(instance: Instance): Promise<void> {
    this.stats.episodes++;
    const started = this.now();
    for (const event of instance.history) event.IsPlayed = true;
    instance.history.push(
      { EventType: ET.OrchestratorStarted, EventId: -1, IsPlayed: false, Timestamp: started },
      ...instance.inbox.splice(0),
    );
    this.stats.replayedEvents += instance.history.length;
    instance.maxHistoryLength = Math.max(instance.maxHistoryLength, instance.history.length);
    // The payload the Functions host sends (OrchestrationTriggerAttributeBindingProvider), through JSON as on the wire.
    const trigger = JSON.parse(
      JSON.stringify({
        history: instance.history,
        input: instance.input === undefined ? null : instance.input,
        instanceId: instance.instanceId,
        isReplaying: false,
        parentInstanceId: instance.parent?.instanceId ?? null,
        upperSchemaVersion: 1,
        upperSchemaVersionNew: 2,
        longRunningTimerIntervalDuration: '3.00:00:00',
        maximumShortTimerDuration: '6.00:00:00',
        defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
      }),
    ) as unknown;
    const context = this.context(instance.reg); // fresh each episode: the SDK only builds context.df when it is unset
    let state: OrchestratorState;
    let failed = false;
    try {
      state = (await instance.reg.callback(trigger, context)) as OrchestratorState;
    } catch (error) {
      failed = true;
      const message = (error as Error)?.message ?? String(error);
      const at = message.indexOf(OUT_OF_PROC_MARK);
      state =
        at >= 0
          ? (JSON.parse(message.slice(at + OUT_OF_PROC_MARK.length)) as OrchestratorState)
          : { isDone: false, actions: [[]], error: message };
    }
    if (state.customStatus !== undefined) instance.customStatus = roundtrip(state.customStatus);
    instance.lastUpdatedTime = started;
    if (this.strict) {
      const divergence = this.checkDeterminism(instance, state);
      if (divergence) return this.finish(instance, 'Failed', `[local host] ${divergence}`);
    }
    if (failed) return this.finish(instance, 'Failed', state.error ?? 'The orchestrator failed');
    if (state.isDone) {
      const continued = flatten(state.actions).find((a) => a.actionType === AT.ContinueAsNew);
      if (continued) return this.continueAsNew(instance, decodeProcessed(continued.input));
      return this.finish(instance, 'Completed', state.output);
    }
    instance.status = 'Running';
    const executor = (
      context as unknown as { df?: { taskOrchestratorExecutor?: { openTasks?: Record<string, OpenTask> } } }
    ).df?.taskOrchestratorExecutor;
    if (!executor?.openTasks)
      throw new Error('durable-functions internals changed: no taskOrchestratorExecutor.openTasks');
    for (const [key, task] of Object.entries(executor.openTasks)) {
      const id = Number(key);
      if (!Number.isInteger(id)) continue;
      const action = task.actionObj;
      if (action !== 'noOp' && action.actionType === AT.CreateTimer && action.isCanceled) {
        this.timers = this.timers.filter((t) => !(t.instanceId === instance.instanceId && t.id === id));
        continue;
      }
      if (instance.dispatched.has(id)) continue;
      instance.dispatched.add(id);
      this.dispatch(instance, id, task);
    }
    instance.history.push({ EventType: ET.OrchestratorCompleted, EventId: -1, IsPlayed: false, Timestamp: started });
  }

  /** Actions are cumulative across replays: a deterministic orchestrator re-emits the previous list as a prefix. */
  private checkDeterminism(instance: Instance, state: OrchestratorState): string | undefined {
    const flat = flatten(state.actions);
    const seen = new Set<Action>();
    for (const action of flat) {
      if (seen.has(action)) {
        return `'${instance.name}' puts an already scheduled task into a new Task.any/Task.all (${action.functionName ?? action.actionType}); the real host would schedule it again (durable-js issue #574)`;
      }
      seen.add(action);
    }
    const signatures = flat.map((a) =>
      JSON.stringify([a.actionType, a.functionName, a.input, a.instanceId, a.externalEventName, a.fireAt]),
    );
    const bad = instance.lastActionSignatures.findIndex((previous, i) => signatures[i] !== previous);
    if (bad >= 0)
      return `Non-deterministic replay in '${instance.name}' (${instance.instanceId}) at action #${bad}: was ${instance.lastActionSignatures[bad]}, now ${signatures[bad] ?? 'nothing'}`;
    instance.lastActionSignatures = signatures;
    return undefined;
  }

  private dispatch(instance: Instance, id: number, task: OpenTask): void {
    if (task.actionObj === 'noOp') {
      // A RetryableTask's child: either the retry timer or the next attempt.
      const retry = task.parent!;
      if (retry.isWaitingOnTimer) {
        this.timer(
          instance,
          id,
          new Date(this.now().getTime() + retryDelayMs(retry.retryOptions, retry.attemptNumber - 1)),
        );
        return;
      }
      this.dispatchAction(instance, id, retry.innerTask.actionObj);
      return;
    }
    this.dispatchAction(instance, id, task.actionObj);
  }

  private dispatchAction(instance: Instance, id: number, action: Action): void {
    const ts = this.now();
    switch (action.actionType) {
      case AT.CallActivity:
      case AT.CallActivityWithRetry: {
        const input = decodeProcessed(action.input);
        instance.history.push({
          EventType: ET.TaskScheduled,
          EventId: id,
          IsPlayed: false,
          Timestamp: ts,
          Name: action.functionName,
          Input: wire(input),
        });
        this.activity(instance, id, action.functionName!, input);
        return;
      }
      case AT.CallSubOrchestrator:
      case AT.CallSubOrchestratorWithRetry: {
        const childId = action.instanceId ?? `${instance.executionId}:${id}`;
        instance.history.push({
          EventType: ET.SubOrchestrationInstanceCreated,
          EventId: id,
          IsPlayed: false,
          Timestamp: ts,
          Name: action.functionName,
          InstanceId: childId,
          Input: wire(action.input),
        });
        try {
          this.startNew(
            action.functionName!,
            { input: action.input, instanceId: childId },
            { instanceId: instance.instanceId, executionId: instance.executionId, taskId: id },
          );
        } catch (error) {
          this.deliver(
            instance.instanceId,
            instance.executionId,
            failureEvent(
              ET.SubOrchestrationInstanceFailed,
              id,
              `Orchestrator function '${action.functionName}'`,
              error,
            ),
          );
        }
        return;
      }
      case AT.CreateTimer:
        this.timer(instance, id, new Date(action.fireAt!));
        return;
      default:
        this.deliver(
          instance.instanceId,
          instance.executionId,
          failureEvent(
            ET.TaskFailed,
            id,
            'Local host',
            new Error(`Action type ${action.actionType} is not supported by the local host`),
          ),
        );
    }
  }

  private timer(instance: Instance, id: number, fireAt: Date): void {
    instance.history.push({
      EventType: ET.TimerCreated,
      EventId: id,
      IsPlayed: false,
      Timestamp: this.now(),
      FireAt: fireAt,
    });
    const timer: (typeof this.timers)[number] = {
      instanceId: instance.instanceId,
      executionId: instance.executionId,
      id,
      fireAt,
    };
    this.timers.push(timer);
    if (this.clock === 'real') {
      timer.handle = setTimeout(
        () => {
          const at = this.timers.indexOf(timer);
          if (at < 0) return;
          this.timers.splice(at, 1);
          this.deliver(timer.instanceId, timer.executionId, { EventType: ET.TimerFired, TimerId: id, FireAt: fireAt });
        },
        Math.max(0, fireAt.getTime() - Date.now()),
      );
    }
  }

  private takeFault(name: string, when: 'before' | 'after', input: unknown): boolean {
    const at = this.faults.findIndex(
      (f) => f.activity.toLowerCase() === name.toLowerCase() && f.when === when && (!f.match || f.match(input)),
    );
    if (at < 0) return false;
    const fault = this.faults[at]!;
    if (--fault.times <= 0) this.faults.splice(at, 1);
    return true;
  }

  private activity(instance: Instance, id: number, name: string, input: unknown): void {
    const { instanceId, executionId } = instance;
    this.inflight++;
    instance.inflight++;
    void this.semaphore
      .run(async () => {
        this.stats.activities++;
        this.runningActivities++;
        this.stats.maxInflightActivities = Math.max(this.stats.maxInflightActivities, this.runningActivities);
        const reg = this.registration(name, 'activityTrigger');
        const clockStart = performance.now();
        let event: Record<string, unknown> & { EventType: number };
        try {
          if (!reg)
            throw new Error(`The function '${name}' doesn't exist, is disabled, or is not an activity function.`);
          if (this.takeFault(name, 'before', input))
            throw new Error(`[injected] the worker running '${name}' stopped before it ran`);
          const result = await reg.callback(roundtrip(input), this.context(reg));
          if (this.takeFault(name, 'after', input))
            throw new Error(`[injected] the worker running '${name}' stopped before reporting its result`);
          event = { EventType: ET.TaskCompleted, TaskScheduledId: id, Result: wire(result) };
        } catch (error) {
          event = failureEvent(ET.TaskFailed, id, `Activity function '${name}'`, error);
        }
        const elapsed = performance.now() - clockStart;
        const timing = (this.stats.activityMs[name] ??= { count: 0, totalMs: 0, maxMs: 0 });
        timing.count++;
        timing.totalMs += elapsed;
        timing.maxMs = Math.max(timing.maxMs, elapsed);
        this.runningActivities--;
        instance.inflight--;
        this.deliver(instanceId, executionId, event);
      })
      .finally(() => {
        this.inflight--;
        this.kick();
      });
  }

  private continueAsNew(instance: Instance, input: unknown): void {
    instance.input = roundtrip(input);
    instance.generations++;
    this.resetExecution(instance);
    instance.status = 'Running';
    this.enqueue(instance, { EventType: ET.ExecutionStarted, Name: instance.name, Input: wire(input), Version: '' });
  }

  private finish(instance: Instance, status: RuntimeStatus, outputOrError: unknown): void {
    instance.status = status;
    instance.lastUpdatedTime = this.now();
    this.timers = this.timers.filter((t) => {
      if (t.instanceId !== instance.instanceId) return true;
      clearTimeout(t.handle);
      return false;
    });
    instance.output = status === 'Completed' ? roundtrip(outputOrError) : outputOrError;
    const parent = instance.parent;
    if (parent) {
      if (status === 'Completed')
        this.deliver(parent.instanceId, parent.executionId, {
          EventType: ET.SubOrchestrationInstanceCompleted,
          TaskScheduledId: parent.taskId,
          Result: wire(outputOrError),
        });
      else
        this.deliver(
          parent.instanceId,
          parent.executionId,
          failureEvent(
            ET.SubOrchestrationInstanceFailed,
            parent.taskId,
            `Orchestrator function '${instance.name}'`,
            new Error(String(outputOrError)),
          ),
        );
    }
    instance.completionWaiters.splice(0).forEach((resolve) => resolve());
  }
}

/** The subset of durable-functions' DurableClient the app uses, backed by the in-process host. */
export class InMemoryDurableClient {
  readonly taskHubName = 'local';
  readonly uniqueWebhookOrigins: string[] = [];
  constructor(private readonly host: DurableHost) {}

  async startNew(name: string, options: { input?: unknown; instanceId?: string } = {}): Promise<string> {
    return this.host.startNew(name, options);
  }

  async getStatus(instanceId: string, options: { showHistory?: boolean } = {}): Promise<InstanceStatus> {
    const status = this.host.getStatus(instanceId, options);
    // The real client answers an unknown instance with an error; so does this one.
    if (!status)
      throw new Error(
        `DurableClient error: Durable Functions extension replied with HTTP 404 response. Instance ${instanceId} not found.`,
      );
    return status;
  }

  async raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void> {
    this.host.raiseEvent(instanceId, eventName, data);
  }

  async terminate(instanceId: string, reason: string): Promise<void> {
    this.host.terminate(instanceId, reason);
  }
}
