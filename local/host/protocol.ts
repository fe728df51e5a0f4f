/**
 * The out-of-process orchestration protocol between the Functions host and durable-functions v3: history events
 * go in, an OrchestratorState with the actions to schedule comes out. Event and action numbers are DTFx's
 * EventType and durable-functions' ActionType; only the ones the local host produces or reads are listed.
 */

export const EventType = {
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

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
} as const;

/** An event as it sits in an instance's history. */
export type HistoryEvent = Record<string, unknown> & {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: Date;
};

/** An event before the host records it (EventId, IsPlayed and Timestamp are added then). */
export type NewEvent = Record<string, unknown> & { EventType: number };

export interface Action {
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

export interface RetryOptionsShape {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
}

/** A task the orchestrator waits on, as durable-functions' TaskOrchestrationExecutor keeps it. */
export interface OpenTask {
  actionObj: Action | 'noOp';
  /** Set on the children of a RetryableTask: the retry timer and each attempt. */
  parent?: {
    isWaitingOnTimer: boolean;
    attemptNumber: number;
    retryOptions: RetryOptionsShape;
    innerTask: { actionObj: Action };
  };
}

export interface OrchestratorState {
  isDone: boolean;
  actions: Action[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

/** A value as the Functions host puts it on the wire: JSON, with undefined as null. */
export const wire = (value: unknown): string => (value === undefined ? 'null' : JSON.stringify(value));

/** A copy through JSON, so the app sees what it would after a trip through the host. */
export const roundtrip = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/** durable-functions JSON-encodes string inputs of activities and continueAsNew (Utils.processInput). */
export const decodeProcessed = (value: unknown): unknown =>
  typeof value === 'string' ? (JSON.parse(value) as unknown) : value;

/** Every action in the order scheduled, with Task.all / Task.any groups opened up. */
export function flattenActions(actions: Action[][] | undefined): Action[] {
  const out: Action[] = [];
  const walk = (action: Action) => (action.compoundActions ? action.compoundActions.forEach(walk) : out.push(action));
  (actions ?? []).forEach((batch) => (batch ?? []).forEach(walk));
  return out;
}

/** A TaskFailed or SubOrchestrationInstanceFailed event, with the failure details durable-functions reads. */
export function failureEvent(type: number, taskId: number, what: string, error: unknown): NewEvent {
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
