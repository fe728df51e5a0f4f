import type { ParentLink, RuntimeStatus } from './instances.js';
import type { HistoryEvent, NewEvent } from './protocol.js';

/**
 * What the local host keeps of an instance so that a killed process can resume it, as the Azure Storage provider
 * keeps instances and histories in its task hub. Each execution (a start, or a continueAsNew) has a log of its
 * own; records are only ever appended, each append is atomic, and appends of one instance land in order.
 */
export type HubRecord = ExecutionBegun | EpisodeCommitted | EventAccepted | ExecutionEnded;

/** The first record of an execution's log: everything needed to rebuild the instance. */
export interface ExecutionBegun {
  kind: 'begun';
  name: string;
  executionId: string;
  input: unknown;
  parent?: ParentLink;
  createdTime: string;
  /** Names the log: one more than the instance's previous log (an earlier instance with this id, or continueAsNew). */
  generation: number;
  /** Executions of this instance so far, this one included (1 at start, +1 per continueAsNew). */
  generations: number;
}

/** An episode's new history events, written before anything it scheduled is acted on. */
export interface EpisodeCommitted {
  kind: 'episode';
  events: HistoryEvent[];
  customStatus: unknown;
  lastUpdatedTime: string;
  /** The accepted events (see EventAccepted) this episode took into its history: every seq up to this one. */
  consumedThrough: number;
}

/** An event a client raised, kept until an episode consumes it (nothing else can produce it again). */
export interface EventAccepted {
  kind: 'event';
  seq: number;
  event: NewEvent;
}

/** The end of an execution, with its last episode's history when an episode ended it (one write: both or none). */
export interface ExecutionEnded {
  kind: 'ended';
  events: HistoryEvent[];
  consumedThrough: number;
  status: Exclude<RuntimeStatus, 'Pending' | 'Running'>;
  output: unknown;
  lastUpdatedTime: string;
}

/** One execution's log as read back. */
export interface StoredExecution {
  instanceId: string;
  generation: number;
  records: HubRecord[];
}

export interface TaskHub {
  /** The newest execution of every instance the hub holds. */
  load(): Promise<StoredExecution[]>;
  /** Starts the log of a new execution; its first record is `begun`. */
  begin(instanceId: string, begun: ExecutionBegun): Promise<void>;
  /** Appends one record to the log of the instance's given execution, in one atomic write. */
  append(instanceId: string, generation: number, record: HubRecord): Promise<void>;
  /** Drops logs of executions older than `generation` (a continueAsNew's predecessors); best effort. */
  forget(instanceId: string, generation: number): Promise<void>;
}

/** A task hub in this process's memory: what a restart of the host object (not of the process) recovers from. */
export class MemoryTaskHub implements TaskHub {
  private readonly logs = new Map<string, Map<number, string[]>>();

  async load(): Promise<StoredExecution[]> {
    return [...this.logs].flatMap(([instanceId, generations]) => {
      const newest = Math.max(...generations.keys());
      const lines = generations.get(newest)!;
      return [{ instanceId, generation: newest, records: lines.map((l) => JSON.parse(l) as HubRecord) }];
    });
  }

  async begin(instanceId: string, begun: ExecutionBegun): Promise<void> {
    await this.write(() => {
      const generations = this.logs.get(instanceId) ?? new Map<number, string[]>();
      generations.set(begun.generation, [JSON.stringify(begun)]);
      this.logs.set(instanceId, generations);
    });
  }

  async append(instanceId: string, generation: number, record: HubRecord): Promise<void> {
    await this.write(() => this.logs.get(instanceId)?.get(generation)?.push(JSON.stringify(record)));
  }

  async forget(instanceId: string, generation: number): Promise<void> {
    const generations = this.logs.get(instanceId);
    for (const g of generations?.keys() ?? []) if (g < generation) generations!.delete(g);
  }

  /** Writes that landed so far. */
  writes = 0;
  /** After this many writes no write lands any more (a process that died there): for tests of recovery. */
  landsAtMost = Infinity;

  /** A fresh hub holding what this one held (the storage a restarted process finds). */
  survivor(): MemoryTaskHub {
    const copy = new MemoryTaskHub();
    for (const [id, generations] of this.logs)
      copy.logs.set(id, new Map([...generations].map(([g, lines]) => [g, [...lines]])));
    return copy;
  }

  private async write(apply: () => void): Promise<void> {
    await Promise.resolve();
    if (this.writes >= this.landsAtMost) return new Promise(() => {});
    this.writes++;
    apply();
  }
}
