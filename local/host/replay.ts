import type { InvocationContext } from '@azure/functions';
import type { Instance } from './instances.js';
import { EventType, type OrchestratorState } from './protocol.js';

/** Where durable-functions puts the OrchestratorState into the message of the error it throws on failure. */
const OUT_OF_PROC_MARK = '\n\n$OutOfProcData$:';

export interface ReplayResult {
  state: OrchestratorState;
  /** The orchestrator threw (its state may still carry the actions it scheduled before). */
  failed: boolean;
}

/**
 * Opens an episode: earlier events become played, then OrchestratorStarted and the events that arrived since.
 * Returns how many events the orchestrator replays.
 */
export function beginEpisode(instance: Instance, startedAt: Date): number {
  for (const event of instance.history) event.IsPlayed = true;
  instance.history.push(
    { EventType: EventType.OrchestratorStarted, EventId: -1, IsPlayed: false, Timestamp: startedAt },
    ...instance.inbox.splice(0),
  );
  instance.maxHistoryLength = Math.max(instance.maxHistoryLength, instance.history.length);
  return instance.history.length;
}

export function endEpisode(instance: Instance, startedAt: Date): void {
  instance.history.push({
    EventType: EventType.OrchestratorCompleted,
    EventId: -1,
    IsPlayed: false,
    Timestamp: startedAt,
  });
}

/**
 * Runs the orchestrator handler over the whole history, as the Functions host does. Give it a fresh context
 * each time: the SDK only builds context.df when it is unset.
 */
export async function replayOrchestrator(instance: Instance, context: InvocationContext): Promise<ReplayResult> {
  try {
    const state = (await instance.reg.callback(orchestrationTrigger(instance), context)) as OrchestratorState;
    return { state, failed: false };
  } catch (error) {
    const message = (error as Error)?.message ?? String(error);
    const at = message.indexOf(OUT_OF_PROC_MARK);
    const state =
      at >= 0
        ? (JSON.parse(message.slice(at + OUT_OF_PROC_MARK.length)) as OrchestratorState)
        : { isDone: false, actions: [[]], error: message };
    return { state, failed: true };
  }
}

/** The payload the Functions host sends (OrchestrationTriggerAttributeBindingProvider), through JSON as on the wire. */
function orchestrationTrigger(instance: Instance): unknown {
  return JSON.parse(
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
}
