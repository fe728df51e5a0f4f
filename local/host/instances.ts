import { randomUUID } from 'node:crypto';
import type { HistoryEvent } from './protocol.js';
import type { Registration } from './registry.js';

export type RuntimeStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';

const TERMINAL = new Set<RuntimeStatus>(['Completed', 'Failed', 'Terminated']);

export const isTerminal = (status: RuntimeStatus): boolean => TERMINAL.has(status);

/** One execution of an instance; events addressed to an older execution (before continueAsNew) are dropped. */
export interface ExecutionRef {
  instanceId: string;
  executionId: string;
}

/** The parent's task a sub-orchestration reports its result to. */
export interface ParentLink extends ExecutionRef {
  taskId: number;
}

export interface Instance extends ExecutionRef {
  name: string;
  reg: Registration;
  input: unknown;
  parent?: ParentLink;
  status: RuntimeStatus;
  output: unknown;
  customStatus: unknown;
  createdTime: Date;
  lastUpdatedTime: Date;
  history: HistoryEvent[];
  /** Events that arrived since the last episode. */
  inbox: HistoryEvent[];
  /** Task ids already scheduled in this execution. */
  dispatched: Set<number>;
  /** Whether it waits in the work queue. */
  queued: boolean;
  /** The actions of the last episode, for the determinism check. */
  lastActionSignatures: string[];
  completionWaiters: Array<() => void>;
  /** Largest history one execution reached (continueAsNew resets it). */
  maxHistoryLength: number;
  generations: number;
  /** Which task hub log holds this execution (see ./taskHub.ts): one more per start and per continueAsNew. */
  logGeneration: number;
  /** How many history events that log holds already. */
  committedEvents: number;
  /** The last sequence number given to a client's event in this execution (see EventAccepted). */
  acceptedSeq: number;
  /** History events of the executions before this one (continueAsNew), for history-per-work measurements. */
  earlierHistoryEvents: number;
}

/** An instance's history: executions (continueAsNew), the longest one, and every event of all of them. */
export interface HistoryStats {
  generations: number;
  maxHistoryLength: number;
  totalEvents: number;
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

/** Starts a fresh execution: a new execution id and empty history (at start and on continueAsNew). */
export function beginExecution(instance: Instance): void {
  instance.earlierHistoryEvents += instance.history?.length ?? 0;
  Object.assign(instance, {
    executionId: randomUUID(),
    history: [],
    inbox: [],
    dispatched: new Set(),
    queued: false,
    lastActionSignatures: [],
    committedEvents: 0,
    acceptedSeq: 0,
  });
}

/**
 * A finished instance's history, input and output let go (its parent holds its result, the task hub its history);
 * its status, custom status and history counts stay. A status read shows it without history.
 */
export function releaseFinished(instance: Instance): void {
  instance.earlierHistoryEvents += instance.history.length;
  Object.assign(instance, {
    history: [],
    inbox: [],
    dispatched: new Set(),
    lastActionSignatures: [],
    input: undefined,
    output: undefined,
  });
}

/** Every instance this host started, by instance id; finished ones stay, as in a task hub. */
export class InstanceStore {
  private readonly instances = new Map<string, Instance>();

  get(instanceId: string): Instance | undefined {
    return this.instances.get(instanceId);
  }

  /** A new instance; it replaces a finished one with the same id, whose completion waiters carry over. */
  create(reg: Registration, instanceId: string, input: unknown, parent: ParentLink | undefined, now: Date): Instance {
    const old = this.instances.get(instanceId);
    if (old && !isTerminal(old.status))
      throw new Error(`An instance with ID '${instanceId}' already exists and is ${old.status}`);
    const instance: Instance = {
      instanceId,
      name: reg.name,
      reg,
      input,
      ...(parent ? { parent } : {}),
      status: 'Pending',
      output: undefined,
      customStatus: null,
      createdTime: now,
      lastUpdatedTime: now,
      executionId: '',
      history: [],
      inbox: [],
      dispatched: new Set(),
      queued: false,
      lastActionSignatures: [],
      completionWaiters: old?.completionWaiters ?? [],
      maxHistoryLength: 0,
      generations: 1,
      logGeneration: (old?.logGeneration ?? 0) + 1,
      committedEvents: 0,
      acceptedSeq: 0,
      earlierHistoryEvents: 0,
    };
    beginExecution(instance);
    this.instances.set(instanceId, instance);
    return instance;
  }

  /** An instance rebuilt from the task hub after a restart. */
  restore(instance: Instance): void {
    this.instances.set(instance.instanceId, instance);
  }

  status(instanceId: string, options: { showHistory?: boolean } = {}): InstanceStatus | undefined {
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

  list(): InstanceStatus[] {
    return [...this.instances.keys()].map((id) => this.status(id)!);
  }

  historyStats(instanceId: string): HistoryStats | undefined {
    const i = this.instances.get(instanceId);
    if (!i) return undefined;
    const totalEvents = i.earlierHistoryEvents + i.history.length;
    return { generations: i.generations, maxHistoryLength: i.maxHistoryLength, totalEvents };
  }

  waitForCompletion(instanceId: string): Promise<InstanceStatus> {
    const i = this.instances.get(instanceId);
    if (!i) return Promise.reject(new Error(`No instance '${instanceId}'`));
    if (isTerminal(i.status)) return Promise.resolve(this.status(instanceId)!);
    return new Promise((resolve) => i.completionWaiters.push(() => resolve(this.status(instanceId)!)));
  }
}
