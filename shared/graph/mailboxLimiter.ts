import { delay } from './retry.js';

/** Graph's hard ceiling: Exchange answers a fifth concurrent request on one mailbox with 429 MailboxConcurrency. */
export const MAX_REQUESTS_PER_MAILBOX = 4;

export interface MailboxThrottleStats {
  /** 429 responses received for this mailbox. */
  throttledResponses: number;
  /** Total time requests for this mailbox spent waiting out Retry-After pauses. */
  throttleWaitInMs: number;
  /** Most requests this process had in flight at once for this mailbox. */
  maxInFlight: number;
}

/** A permit to have one request in flight; release it when the response body is finished. */
export interface MailboxPermit {
  release(): void;
}

class MailboxGate {
  inFlight = 0;
  limit: number;
  pausedUntil = 0;
  successesSinceThrottle = 0;
  readonly waiters: Array<() => void> = [];
  readonly stats: MailboxThrottleStats = { throttledResponses: 0, throttleWaitInMs: 0, maxInFlight: 0 };

  constructor(readonly maxLimit: number) {
    this.limit = maxLimit;
  }
}

/**
 * Per-mailbox admission for one process: at most N requests in flight per mailbox (N ≤ 4), one shared pause
 * for every request of a mailbox when any of them is told to Retry-After, and an adaptive limit that drops by
 * one on each 429 and climbs back after a run of successes.
 */
export class MailboxLimiter {
  private readonly gates = new Map<string, MailboxGate>();
  private readonly maxPerMailbox: number;

  constructor(maxPerMailbox: number = MAX_REQUESTS_PER_MAILBOX) {
    if (!Number.isInteger(maxPerMailbox) || maxPerMailbox < 1) {
      throw new RangeError(`maxPerMailbox must be a whole number from 1 to ${MAX_REQUESTS_PER_MAILBOX}, got ${maxPerMailbox}`);
    }
    this.maxPerMailbox = Math.min(maxPerMailbox, MAX_REQUESTS_PER_MAILBOX);
  }

  private gate(mailboxId: string): MailboxGate {
    let gate = this.gates.get(mailboxId);
    if (!gate) {
      gate = new MailboxGate(this.maxPerMailbox);
      this.gates.set(mailboxId, gate);
    }
    return gate;
  }

  async acquire(mailboxId: string, signal?: AbortSignal): Promise<MailboxPermit> {
    const gate = this.gate(mailboxId);
    for (;;) {
      signal?.throwIfAborted();
      const pause = gate.pausedUntil - Date.now();
      if (pause > 0) {
        gate.stats.throttleWaitInMs += pause;
        await delay(pause, signal);
        continue;
      }
      if (gate.inFlight < gate.limit) break;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          const at = gate.waiters.indexOf(wake);
          if (at >= 0) gate.waiters.splice(at, 1);
          reject(signal?.reason);
        };
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        gate.waiters.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
    gate.inFlight++;
    gate.stats.maxInFlight = Math.max(gate.stats.maxInFlight, gate.inFlight);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        gate.inFlight--;
        gate.waiters.shift()?.();
      },
    };
  }

  /** A 429 arrived: pause the whole mailbox until `retryAfterInMs` has passed and narrow its window. */
  onThrottled(mailboxId: string, retryAfterInMs: number): void {
    const gate = this.gate(mailboxId);
    gate.stats.throttledResponses++;
    gate.pausedUntil = Math.max(gate.pausedUntil, Date.now() + retryAfterInMs);
    gate.limit = Math.max(1, gate.limit - 1);
    gate.successesSinceThrottle = 0;
  }

  onSuccess(mailboxId: string): void {
    const gate = this.gate(mailboxId);
    if (gate.limit >= gate.maxLimit) return;
    if (++gate.successesSinceThrottle >= 20) {
      gate.limit++;
      gate.successesSinceThrottle = 0;
      gate.waiters.shift()?.();
    }
  }

  stats(mailboxId: string): MailboxThrottleStats {
    return { ...this.gate(mailboxId).stats };
  }
}
