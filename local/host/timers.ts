import { EventType, type NewEvent } from './protocol.js';
import type { ExecutionRef } from './instances.js';

export type ClockMode = 'virtual' | 'real';

interface PendingTimer extends ExecutionRef {
  id: number;
  fireAt: Date;
  handle?: NodeJS.Timeout;
}

/**
 * Durable timers and the clock the host reads. With the 'real' clock each timer is a setTimeout. With the
 * 'virtual' clock nothing fires by itself: the work queue calls advanceToEarliest() once nothing else can run,
 * so a test waits a day in no time.
 */
export class DurableTimers {
  private pending: PendingTimer[] = [];
  private virtualNow = Date.now();
  private closed = false;

  constructor(
    private readonly clock: ClockMode,
    private readonly fire: (execution: ExecutionRef, event: NewEvent) => void,
  ) {}

  now(): Date {
    return this.clock === 'virtual' ? new Date(this.virtualNow) : new Date();
  }

  schedule(execution: ExecutionRef, id: number, fireAt: Date): void {
    const timer: PendingTimer = { instanceId: execution.instanceId, executionId: execution.executionId, id, fireAt };
    this.pending.push(timer);
    if (this.clock === 'real') {
      timer.handle = setTimeout(() => this.fireIfPending(timer), Math.max(0, fireAt.getTime() - Date.now()));
    }
  }

  /** A timer the orchestrator no longer waits for (a Task.any it lost). */
  cancel(instanceId: string, id: number): void {
    this.remove((t) => t.instanceId === instanceId && t.id === id);
  }

  /** Every timer of an instance, when it finishes or starts a new execution. */
  cancelAll(instanceId: string): void {
    this.remove((t) => t.instanceId === instanceId);
  }

  /** Whether advanceToEarliest() has a timer to fire. */
  canAdvance(): boolean {
    return this.clock === 'virtual' && this.pending.length > 0 && !this.closed;
  }

  /** Virtual clock: moves to the earliest timer and fires every timer due by then. */
  advanceToEarliest(): void {
    this.pending.sort((a, b) => a.fireAt.getTime() - b.fireAt.getTime());
    this.virtualNow = Math.max(this.virtualNow, this.pending[0]!.fireAt.getTime());
    while (this.pending.length && this.pending[0]!.fireAt.getTime() <= this.virtualNow) {
      this.deliver(this.pending.shift()!);
    }
  }

  /** Stops firing timers; running work finishes on its own. */
  close(): void {
    this.closed = true;
    this.remove(() => true);
  }

  private fireIfPending(timer: PendingTimer): void {
    const at = this.pending.indexOf(timer);
    if (at < 0) return;
    this.pending.splice(at, 1);
    this.deliver(timer);
  }

  private deliver(timer: PendingTimer): void {
    this.fire(timer, { EventType: EventType.TimerFired, TimerId: timer.id, FireAt: timer.fireAt });
  }

  private remove(which: (timer: PendingTimer) => boolean): void {
    this.pending = this.pending.filter((t) => {
      if (!which(t)) return true;
      clearTimeout(t.handle);
      return false;
    });
  }
}
