import type { ActivityRunner } from './activities.js';
import type { ExecutionRef, Instance, ParentLink } from './instances.js';
import {
  ActionType,
  EventType,
  decodeProcessed,
  failureEvent,
  wire,
  type Action,
  type NewEvent,
  type OpenTask,
  type RetryOptionsShape,
} from './protocol.js';
import type { DurableTimers } from './timers.js';

export interface DispatcherOptions {
  timers: DurableTimers;
  activities: ActivityRunner;
  /** Starts a sub-orchestration; throws when it cannot (unknown name, instance id in use). */
  startChild(name: string, input: unknown, instanceId: string, parent: ParentLink): void;
  deliver(execution: ExecutionRef, event: NewEvent): void;
}

/** Something an episode scheduled, acted on once the episode's history is in the task hub. */
export type Effect = () => void;

/**
 * Schedules what an episode left open: activities, sub-orchestrations, timers, and the retry timers and attempts
 * of callActivityWithRetry / callSubOrchestratorWithRetry. Each task is scheduled once per execution; each
 * schedule is recorded in the history at once, as the real host does, and acted on by the effects returned,
 * which the caller runs only after that history is written (so a crash never leaves work without its record).
 */
export class ActionDispatcher {
  constructor(private readonly options: DispatcherOptions) {}

  dispatchOpenTasks(instance: Instance, openTasks: Record<string, OpenTask>): Effect[] {
    const effects: Effect[] = [];
    for (const [key, task] of Object.entries(openTasks)) {
      const id = Number(key);
      if (!Number.isInteger(id)) continue;
      const action = task.actionObj;
      if (action !== 'noOp' && action.actionType === ActionType.CreateTimer && action.isCanceled) {
        this.options.timers.cancel(instance.instanceId, id);
        continue;
      }
      if (instance.dispatched.has(id)) continue;
      instance.dispatched.add(id);
      effects.push(this.dispatchTask(instance, id, task));
    }
    return effects;
  }

  private dispatchTask(instance: Instance, id: number, task: OpenTask): Effect {
    if (task.actionObj !== 'noOp') return this.dispatchAction(instance, id, task.actionObj);
    // A RetryableTask's child: either the retry timer or the next attempt.
    const retry = task.parent!;
    if (!retry.isWaitingOnTimer) return this.dispatchAction(instance, id, retry.innerTask.actionObj);
    const delay = retryDelayMs(retry.retryOptions, retry.attemptNumber - 1);
    return this.createTimer(instance, id, new Date(this.options.timers.now().getTime() + delay));
  }

  private dispatchAction(instance: Instance, id: number, action: Action): Effect {
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry:
        return this.scheduleActivity(instance, id, action);
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry:
        return this.startSubOrchestration(instance, id, action);
      case ActionType.CreateTimer:
        return this.createTimer(instance, id, new Date(action.fireAt!));
      default: {
        const unsupported = new Error(`Action type ${action.actionType} is not supported by the local host`);
        return () => this.options.deliver(instance, failureEvent(EventType.TaskFailed, id, 'Local host', unsupported));
      }
    }
  }

  private scheduleActivity(instance: Instance, id: number, action: Action): Effect {
    const input = decodeProcessed(action.input);
    this.record(instance, id, { EventType: EventType.TaskScheduled, Name: action.functionName, Input: wire(input) });
    return () => this.options.activities.start(instance, id, action.functionName!, input);
  }

  private startSubOrchestration(instance: Instance, id: number, action: Action): Effect {
    const childId = action.instanceId ?? `${instance.executionId}:${id}`;
    this.record(instance, id, {
      EventType: EventType.SubOrchestrationInstanceCreated,
      Name: action.functionName,
      InstanceId: childId,
      Input: wire(action.input),
    });
    const parent = { instanceId: instance.instanceId, executionId: instance.executionId, taskId: id };
    return () => this.startChild(action.functionName!, action.input, childId, parent);
  }

  /** Starts a sub-orchestration, or tells the parent it could not (also used when resuming after a restart). */
  startChild(name: string, input: unknown, childId: string, parent: ParentLink): void {
    try {
      this.options.startChild(name, input, childId, parent);
    } catch (error) {
      const what = `Orchestrator function '${name}'`;
      this.options.deliver(parent, failureEvent(EventType.SubOrchestrationInstanceFailed, parent.taskId, what, error));
    }
  }

  private createTimer(instance: Instance, id: number, fireAt: Date): Effect {
    this.record(instance, id, { EventType: EventType.TimerCreated, FireAt: fireAt });
    return () => this.options.timers.schedule(instance, id, fireAt);
  }

  /** Appends the event with this task's id; EventType first, as in the history the real host keeps. */
  private record(instance: Instance, id: number, event: NewEvent): void {
    const { EventType: type, ...details } = event;
    instance.history.push({
      EventType: type,
      EventId: id,
      IsPlayed: false,
      Timestamp: this.options.timers.now(),
      ...details,
    });
  }
}

/** DTFx RetryInterceptor's delay, including its zero-delay "dummy timer" after the last attempt. */
export function retryDelayMs(options: RetryOptionsShape, failedAttempts: number): number {
  if (failedAttempts >= options.maxNumberOfAttempts) return 0;
  const delay =
    options.firstRetryIntervalInMilliseconds * Math.pow(options.backoffCoefficient || 1, failedAttempts - 1);
  return options.maxRetryIntervalInMilliseconds ? Math.min(delay, options.maxRetryIntervalInMilliseconds) : delay;
}
