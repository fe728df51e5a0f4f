import type { Instance } from './instances.js';
import { EventType, wire, type HistoryEvent } from './protocol.js';
import type { Registration } from './registry.js';
import type { EventAccepted, ExecutionBegun, StoredExecution } from './taskHub.js';

/** Work an instance had scheduled and not seen the outcome of when the process stopped. */
export interface UnfinishedWork {
  activities: Array<{ taskId: number; name: string; input: unknown }>;
  timers: Array<{ taskId: number; fireAt: Date }>;
  children: Array<{ taskId: number; name: string; instanceId: string; input: unknown }>;
}

/**
 * Rebuilds an instance from its execution's log: the history its committed episodes recorded, its status, and
 * an inbox of what it has not consumed yet (its start, and client events no episode took in).
 */
export function rebuildInstance(stored: StoredExecution, reg: Registration): Instance {
  const begun = stored.records[0] as ExecutionBegun;
  const instance = emptyInstance(stored, begun, reg);
  const accepted: EventAccepted[] = [];
  let consumedThrough = 0;
  for (const record of stored.records.slice(1)) {
    if (record.kind === 'event') {
      accepted.push(record);
      instance.acceptedSeq = Math.max(instance.acceptedSeq, record.seq);
    } else if (instance.status === 'Pending' || instance.status === 'Running') {
      // Once ended, a later episode record (a commit racing a terminate) no longer counts.
      if (record.kind === 'episode') {
        instance.history.push(...record.events.map(reviveEvent));
        instance.customStatus = record.customStatus;
        instance.lastUpdatedTime = new Date(record.lastUpdatedTime);
        instance.status = 'Running';
        consumedThrough = Math.max(consumedThrough, record.consumedThrough);
      } else if (record.kind === 'ended') {
        instance.history.push(...record.events.map(reviveEvent));
        consumedThrough = Math.max(consumedThrough, record.consumedThrough);
        Object.assign(instance, { status: record.status, output: record.output });
        instance.lastUpdatedTime = new Date(record.lastUpdatedTime);
      }
    }
  }
  instance.committedEvents = instance.history.length;
  instance.maxHistoryLength = instance.history.length;
  for (const event of instance.history) {
    event.IsPlayed = true;
    if (isScheduling(event)) instance.dispatched.add(event.EventId);
  }
  if (instance.history.length === 0) instance.inbox.push(stamped(startedEvent(begun), instance.createdTime));
  const unconsumed = accepted.filter((a) => a.seq > consumedThrough).sort((a, b) => a.seq - b.seq);
  instance.inbox.push(...unconsumed.map((a) => stamped(a.event, instance.lastUpdatedTime)));
  return instance;
}

/** What the history scheduled and holds no outcome for: activities to run again, timers, sub-orchestrations. */
export function unfinishedWork(history: HistoryEvent[]): UnfinishedWork {
  const outcomes = new Set<number>();
  for (const e of history) {
    if (e.EventType === EventType.TimerFired) outcomes.add(e.TimerId as number);
    else if (OUTCOMES.has(e.EventType)) outcomes.add(e.TaskScheduledId as number);
  }
  const work: UnfinishedWork = { activities: [], timers: [], children: [] };
  for (const e of history) {
    if (outcomes.has(e.EventId)) continue;
    const input = typeof e.Input === 'string' ? (JSON.parse(e.Input) as unknown) : undefined;
    if (e.EventType === EventType.TaskScheduled)
      work.activities.push({ taskId: e.EventId, name: e.Name as string, input });
    else if (e.EventType === EventType.TimerCreated)
      work.timers.push({ taskId: e.EventId, fireAt: new Date(e.FireAt as string | Date) });
    else if (e.EventType === EventType.SubOrchestrationInstanceCreated)
      work.children.push({ taskId: e.EventId, name: e.Name as string, instanceId: e.InstanceId as string, input });
  }
  return work;
}

const OUTCOMES = new Set<number>([
  EventType.TaskCompleted,
  EventType.TaskFailed,
  EventType.SubOrchestrationInstanceCompleted,
  EventType.SubOrchestrationInstanceFailed,
]);

const SCHEDULING = new Set<number>([
  EventType.TaskScheduled,
  EventType.TimerCreated,
  EventType.SubOrchestrationInstanceCreated,
]);

const isScheduling = (event: HistoryEvent): boolean => SCHEDULING.has(event.EventType) && event.EventId >= 0;

export function startedEvent(begun: { name: string; input: unknown }) {
  return { EventType: EventType.ExecutionStarted, Name: begun.name, Input: wire(begun.input), Version: '' };
}

function emptyInstance(stored: StoredExecution, begun: ExecutionBegun, reg: Registration): Instance {
  const createdTime = new Date(begun.createdTime);
  return {
    instanceId: stored.instanceId,
    executionId: begun.executionId,
    name: begun.name,
    reg,
    input: begun.input,
    ...(begun.parent ? { parent: begun.parent } : {}),
    status: 'Pending',
    output: undefined,
    customStatus: null,
    createdTime,
    lastUpdatedTime: createdTime,
    history: [],
    inbox: [],
    dispatched: new Set(),
    queued: false,
    lastActionSignatures: [],
    completionWaiters: [],
    maxHistoryLength: 0,
    generations: begun.generations,
    logGeneration: stored.generation,
    committedEvents: 0,
    acceptedSeq: 0,
    // Executions before a restart are not counted (history-per-work measurements run in one process).
    earlierHistoryEvents: 0,
  };
}

/** Dates come back from JSON as strings; the host reads Timestamp and FireAt as dates. */
function reviveEvent(event: HistoryEvent): HistoryEvent {
  const revived: HistoryEvent = { ...event, Timestamp: new Date(event.Timestamp) };
  if (typeof event.FireAt === 'string') revived.FireAt = new Date(event.FireAt);
  return revived;
}

function stamped(event: Record<string, unknown> & { EventType: number }, at: Date): HistoryEvent {
  return { EventId: -1, IsPlayed: false, Timestamp: at, ...event };
}
