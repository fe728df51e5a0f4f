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

/** Exchange's upload budget per app and mailbox: 150 MB per 5 minutes (Graph throttling limits, Outlook service). */
export const DEFAULT_UPLOAD_BUDGET = { bytes: 150 * 1024 * 1024, windowMs: 5 * 60_000 };

/**
 * Uploads are paced to this share of the budget: near the full rate, with room for an item's bytes still in
 * transit when a window closes and for the difference between our clock and Exchange's window.
 */
export const UPLOAD_PACE_SHARE = 0.95;

/** A slot of a mailbox's limits shared with other instances; release it when the request has ended. */
export interface SharedSlot {
  release(): void;
}

/** Call once an admitted upload has ended: its answer arrived, or it failed. */
export type UploadEnded = () => void;

const nothingToSettle: UploadEnded = () => undefined;

/**
 * A mailbox's limits held in total by every instance working on it (vault/mailboxSlots.ts): a slot per request
 * in flight, and uploads admitted under the budget together (each told when it has ended: until a window after
 * that, its bytes may still be counted by Exchange).
 */
export interface SharedMailboxLimits {
  acquireSlot(mailboxId: string, signal?: AbortSignal): Promise<SharedSlot>;
  paceUpload(mailboxId: string, bytes: number, signal?: AbortSignal): Promise<UploadEnded>;
}

export interface MailboxLimiterOptions {
  /** Bytes Exchange accepts per mailbox per window; uploads are paced below it. null: no pacing. */
  uploadBudget?: { bytes: number; windowMs: number } | null;
  /** How long a finished request keeps its slot (see SLOT_RELEASE_DELAY_IN_MS); 0 frees it at once. */
  slotReleaseDelayInMs?: number;
  /** How long a request whose answer was lost keeps its slot (see LOST_ANSWER_SLOT_HOLD_IN_MS). */
  lostAnswerSlotHoldInMs?: number;
  /** Limits held across instances, for the mailboxes named with `shareAcrossInstances`. */
  shared?: SharedMailboxLimits;
}

/**
 * Exchange frees a mailbox's concurrency slot a moment after its answer ends, so a request sent the instant the
 * previous answer arrived can be told 429 MailboxConcurrency (and the whole mailbox then waits out Retry-After).
 * A finished request keeps our slot this long; Graph does not say how long its own hold is (UNCONFIRMED), and a
 * few 429s left are met by the adaptive limit.
 */
export const SLOT_RELEASE_DELAY_IN_MS = 10;

/**
 * A request whose connection dropped or was cut before its answer ended may still be running in Exchange, which
 * counts it against the mailbox's four until it has finished there; the client cannot know when that is. Its
 * slot is kept this long (how long Exchange goes on is UNCONFIRMED; an export of 20 large items takes seconds),
 * so the requests sent meanwhile do not make a fifth. Lost answers are rare: the cost is one slot for a second.
 */
export const LOST_ANSWER_SLOT_HOLD_IN_MS = 1_000;

/**
 * Throttling met by the calls that carry it (an activity's own calls): 429s answered to them and the time they
 * waited out mailbox pauses. Per call, so concurrent activities on one mailbox do not count each other's.
 */
export interface ThrottleTally {
  throttledResponses: number;
  throttleWaitInMs: number;
}

/** A permit to have one request in flight; release it when the response body is finished. */
export interface MailboxPermit {
  release(): void;
  /** The request ended without its whole answer (a dropped connection, an abort): see LOST_ANSWER_SLOT_HOLD_IN_MS. */
  releaseAfterLostAnswer(): void;
}

class MailboxGate {
  inFlight = 0;
  limit: number;
  pausedUntil = 0;
  successesSinceThrottle = 0;
  /** When the uploads reserved so far have been paid for at the paced rate (GCRA's theoretical arrival time). */
  uploadsPaidUntil = 0;
  readonly waiters: Array<() => void> = [];
  readonly stats: MailboxThrottleStats = { throttledResponses: 0, throttleWaitInMs: 0, maxInFlight: 0 };

  constructor(readonly maxLimit: number) {
    this.limit = maxLimit;
  }
}

/**
 * Per-mailbox admission for one process: at most N requests in flight per mailbox (N ≤ 4), one shared pause
 * for every request of a mailbox when any of them is told to Retry-After, an adaptive limit that drops by
 * one on each 429 and climbs back after a run of successes, and uploads paced under Exchange's byte budget.
 */
export class MailboxLimiter {
  private readonly gates = new Map<string, MailboxGate>();
  private readonly maxPerMailbox: number;
  /** Paced upload rate in bytes per millisecond; 0 when uploads are not paced. */
  private readonly uploadBytesPerMs: number;
  private readonly slotReleaseDelayInMs: number;
  private readonly lostAnswerSlotHoldInMs: number;
  private readonly shared: SharedMailboxLimits | undefined;
  /** Mailboxes whose limits this process holds together with other instances (restore targets). */
  private readonly sharedMailboxes = new Set<string>();

  constructor(maxPerMailbox: number = MAX_REQUESTS_PER_MAILBOX, options: MailboxLimiterOptions = {}) {
    if (!Number.isInteger(maxPerMailbox) || maxPerMailbox < 1) {
      throw new RangeError(
        `maxPerMailbox must be a whole number from 1 to ${MAX_REQUESTS_PER_MAILBOX}, got ${maxPerMailbox}`,
      );
    }
    this.maxPerMailbox = Math.min(maxPerMailbox, MAX_REQUESTS_PER_MAILBOX);
    const budget = options.uploadBudget === undefined ? DEFAULT_UPLOAD_BUDGET : options.uploadBudget;
    if (budget && !(budget.bytes > 0 && budget.windowMs > 0))
      throw new RangeError('uploadBudget needs positive bytes and windowMs');
    this.uploadBytesPerMs = budget ? (budget.bytes / budget.windowMs) * UPLOAD_PACE_SHARE : 0;
    this.slotReleaseDelayInMs = options.slotReleaseDelayInMs ?? SLOT_RELEASE_DELAY_IN_MS;
    this.lostAnswerSlotHoldInMs = options.lostAnswerSlotHoldInMs ?? LOST_ANSWER_SLOT_HOLD_IN_MS;
    this.shared = options.shared;
  }

  /**
   * From now on this process's requests on the mailbox also count against its limits held across instances:
   * several instances import into a restore's target at once, and Exchange's limits are per mailbox.
   */
  shareAcrossInstances(mailboxId: string): void {
    if (this.shared) this.sharedMailboxes.add(mailboxId);
  }

  isSharedAcrossInstances(mailboxId: string): boolean {
    return this.sharedMailboxes.has(mailboxId);
  }

  private sharedFor(mailboxId: string): SharedMailboxLimits | undefined {
    return this.sharedMailboxes.has(mailboxId) ? this.shared : undefined;
  }

  /**
   * Waits until `bytes` more may be uploaded to the mailbox. Waiting out a 429 costs at least a whole second
   * of Retry-After and often most of a window; spacing uploads at just under the budget's rate (each starts
   * when the ones before it are paid for) keeps a long restore from being told to wait at all.
   */
  async paceUpload(mailboxId: string, bytes: number, signal?: AbortSignal): Promise<UploadEnded> {
    if (!this.uploadBytesPerMs || bytes <= 0) return nothingToSettle;
    const shared = this.sharedFor(mailboxId);
    if (shared) return shared.paceUpload(mailboxId, bytes, signal);
    const gate = this.gate(mailboxId);
    // Paid from the moment an upload really starts, not from a slot booked ahead: uploads whose timers fire
    // late together (a busy event loop) then still go one pace apart instead of in a burst.
    for (let now = Date.now(); ; now = Date.now()) {
      if (gate.uploadsPaidUntil <= now) {
        gate.uploadsPaidUntil = now + bytes / this.uploadBytesPerMs;
        return nothingToSettle;
      }
      await delay(Math.ceil(gate.uploadsPaidUntil - now), signal); // whole ms: timers fire no finer
    }
  }

  private gate(mailboxId: string): MailboxGate {
    let gate = this.gates.get(mailboxId);
    if (!gate) {
      gate = new MailboxGate(this.maxPerMailbox);
      this.gates.set(mailboxId, gate);
    }
    return gate;
  }

  async acquire(mailboxId: string, signal?: AbortSignal, tally?: ThrottleTally): Promise<MailboxPermit> {
    const gate = this.gate(mailboxId);
    for (;;) {
      signal?.throwIfAborted();
      const pause = gate.pausedUntil - Date.now();
      if (pause > 0) {
        gate.stats.throttleWaitInMs += pause;
        if (tally) tally.throttleWaitInMs += pause;
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
    let sharedSlot: SharedSlot | undefined;
    try {
      sharedSlot = await this.sharedFor(mailboxId)?.acquireSlot(mailboxId, signal);
    } catch (error) {
      gate.inFlight--;
      gate.waiters.shift()?.();
      throw error;
    }
    gate.stats.maxInFlight = Math.max(gate.stats.maxInFlight, gate.inFlight);
    let released = false;
    const releaseAfter = (holdInMs: number) => {
      if (released) return;
      released = true;
      const free = () => {
        sharedSlot?.release();
        gate.inFlight--;
        gate.waiters.shift()?.();
      };
      if (holdInMs > 0) setTimeout(free, holdInMs).unref();
      else free();
    };
    return {
      release: () => releaseAfter(this.slotReleaseDelayInMs),
      releaseAfterLostAnswer: () => releaseAfter(Math.max(this.slotReleaseDelayInMs, this.lostAnswerSlotHoldInMs)),
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
