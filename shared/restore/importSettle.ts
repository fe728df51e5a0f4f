import { setTimeout as sleep } from 'node:timers/promises';

/** Time for the importer: the real clock, or a fake one in tests. */
export interface ImportClock {
  now(): number;
  sleep(ms: number): Promise<unknown>;
}

export const REAL_CLOCK: ImportClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

/**
 * Exchange may still commit an import after its gateway answered 504 (it gives up after about 30 s), after the
 * answer was lost, or after the worker that posted it died. A search by search key made at once can miss such a
 * copy, and the item is posted again: a duplicate. So the target is searched for an item whose import may have
 * happened only once `settleInMs` have passed since its outcome became unknown. How long Exchange may take is
 * UNCONFIRMED (graph-mailbox-api.md); the setting says how long we give it.
 */
export class ImportSettle {
  private readonly runStartedAt: number;

  constructor(
    private readonly settleInMs: number,
    private readonly clock: ImportClock = REAL_CLOCK,
  ) {
    this.runStartedAt = clock.now();
  }

  now(): number {
    return this.clock.now();
  }

  /**
   * When an earlier run's POST became unknown: that run died at some moment before this one started, its POST
   * perhaps long after its intent was written (a session to create first, an upload of minutes), so only this
   * run's start is sure to come after it.
   */
  unknownSinceEarlierRun(): number {
    return this.runStartedAt;
  }

  /** Waits out what is left of the settling time of an outcome unknown since `unknownSince`. */
  async waitFor(unknownSince: number): Promise<void> {
    const left = unknownSince + this.settleInMs - this.clock.now();
    if (left > 0) await this.clock.sleep(left);
  }
}
