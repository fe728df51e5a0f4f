import { isTerminal, type Instance } from './instances.js';
import type { DurableTimers } from './timers.js';

export interface WorkQueueOptions {
  runEpisode(instance: Instance): Promise<void>;
  timers: DurableTimers;
  /** Whether work outside the queue can still produce events (activities running, history being written). */
  busy(): boolean;
}

/**
 * Which instance replays next. Instances with new events wait in arrival order, and one pump runs their episodes
 * one after another, as a single orchestrator worker would. With the virtual clock, once no episode, activity or
 * task hub write is left, the pump fires the earliest timer.
 */
export class WorkQueue {
  private waiting: Instance[] = [];
  private pumping = false;
  private pumpScheduled = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: WorkQueueOptions) {}

  add(instance: Instance): void {
    if (!instance.queued) {
      instance.queued = true;
      this.waiting.push(instance);
    }
    this.kick();
  }

  /** Runs the pump soon (once, however often it is kicked before then). */
  kick(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => void this.pump());
  }

  /** Resolves when nothing can run (instances may still wait on real timers or events). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.kick();
    });
  }

  private async pump(): Promise<void> {
    this.pumpScheduled = false;
    if (this.pumping) return;
    this.pumping = true;
    try {
      let progressed = true;
      while (progressed) progressed = await this.step();
    } finally {
      this.pumping = false;
    }
    if (!this.options.busy() && this.waiting.length === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
  }

  /** One episode or one virtual-clock jump; false when there is nothing to do. */
  private async step(): Promise<boolean> {
    const instance = this.waiting.shift();
    if (instance) {
      instance.queued = false;
      if (!isTerminal(instance.status) && instance.inbox.length > 0) await this.options.runEpisode(instance);
      return true;
    }
    if (!this.options.busy() && this.options.timers.canAdvance()) {
      this.options.timers.advanceToEarliest();
      return true;
    }
    return false;
  }
}
