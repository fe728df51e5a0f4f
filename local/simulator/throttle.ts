import type { SeededRandom } from './random.js';

/** Exchange Online's per-mailbox limits, all scalable so tests and benchmarks run in seconds. */
export interface SimulatorLimits {
  maxConcurrentPerMailbox: number;
  /** Retry-After sent with a concurrency 429. */
  concurrencyRetryAfterSeconds: number;
  requestBudget: { requests: number; windowMs: number };
  uploadBudget: { bytes: number; windowMs: number };
}

export const EXCHANGE_LIMITS: SimulatorLimits = {
  maxConcurrentPerMailbox: 4,
  concurrencyRetryAfterSeconds: 1,
  requestBudget: { requests: 10_000, windowMs: 10 * 60_000 },
  uploadBudget: { bytes: 150 * 1024 * 1024, windowMs: 5 * 60_000 },
};

export type FaultKind =
  | 'http429'
  | 'http503'
  | 'http504'
  | 'http401'
  | 'drop' // connection closed before any answer
  | 'truncate' // export body cut off part-way
  | 'loseImportResponse' // the item is created, then the connection closes without an answer
  | 'commitImportLate' // a 504 at once, and the item created `delayInMs` later (Exchange finishing after its gateway)
  | 'expireSession' // the import session is expired when this POST arrives
  | 'itemError'; // a per-item export error inside a 200

/** Random faults, each a probability per request (or per item for the item-level ones). */
export interface FaultRates {
  http503: number;
  http504: number;
  drop: number;
  truncateExport: number;
  exportItemError: number;
  /** An asked-for item silently missing from the export response. */
  exportItemOmitted: number;
  loseImportResponse: number;
  /** Retry-After on random 503s (absent when undefined). */
  retryAfter503Seconds?: number;
}

export const NO_FAULTS: FaultRates = {
  http503: 0,
  http504: 0,
  drop: 0,
  truncateExport: 0,
  exportItemError: 0,
  exportItemOmitted: 0,
  loseImportResponse: 0,
};

/** A fault to inject on the next `times` matching requests; deterministic, for tests. */
export interface ScriptedFault {
  fault: FaultKind;
  /** Operation name (exportItems, importItem, itemDelta…); any when absent. */
  operation?: string;
  /** Mailbox id or UPN; any when absent. */
  mailbox?: string;
  times?: number;
  retryAfterSeconds?: number;
  /** For commitImportLate: how long after the 504 the item is created. */
  delayInMs?: number;
  /** For itemError: the item ids to fail, and the code to fail them with. */
  itemIds?: string[];
  code?: string;
}

interface Window {
  start: number;
  used: number;
}

export interface MailboxCounters {
  requests: Record<string, number>;
  /** $batch calls that carried requests for this mailbox (each of those is counted in `requests` as well). */
  batchCalls: number;
  /** Most requests seen in flight at once (rejected ones included): never above 4 if clients behave. */
  maxInFlight: number;
  inFlight: number;
  throttled: number;
  exportCalls: number;
  exportedItems: number;
  exportedBytes: number;
  importPosts: number;
  importedItems: number;
  importedBytes: number;
  /** Import body bytes as they arrived, by the simulator's clock (ms since epoch): the upload budget's record. */
  uploads: Array<{ at: number; bytes: number }>;
  importRejected: number;
  /** When the first exportItems call arrived and the last one finished (ms since epoch), for throughput. */
  firstExportAt: number;
  lastExportDoneAt: number;
  firstImportAt: number;
  lastImportDoneAt: number;
}

function newCounters(): MailboxCounters {
  return {
    requests: {},
    batchCalls: 0,
    maxInFlight: 0,
    inFlight: 0,
    throttled: 0,
    exportCalls: 0,
    exportedItems: 0,
    exportedBytes: 0,
    importPosts: 0,
    importedItems: 0,
    importedBytes: 0,
    uploads: [],
    importRejected: 0,
    firstExportAt: 0,
    lastExportDoneAt: 0,
    firstImportAt: 0,
    lastImportDoneAt: 0,
  };
}

/** `release(holdMs)`: the request ended; its slot stays taken `holdMs` longer (Exchange frees it a moment after). */
export type Admission =
  | { ok: true; release: (holdMs?: number, endedAt?: number) => void }
  | { ok: false; retryAfterSeconds: number; code: string; message: string };

/** A slot whose request ended, taken until `freeAt` (ms since the epoch). */
interface HeldSlot {
  freeAt: number;
  free: () => void;
}

/** Per-mailbox admission (concurrency, request and upload budgets), counters and fault decisions. */
export class ThrottleState {
  readonly counters = new Map<string, MailboxCounters>();
  private readonly requestWindows = new Map<string, Window>();
  private readonly uploadWindows = new Map<string, Window>();
  private readonly heldSlots = new Map<string, HeldSlot[]>();
  scripted: ScriptedFault[] = [];

  constructor(
    public limits: SimulatorLimits,
    public faults: FaultRates,
    private readonly random: SeededRandom,
  ) {}

  countersFor(mailboxId: string): MailboxCounters {
    let c = this.counters.get(mailboxId);
    if (!c) this.counters.set(mailboxId, (c = newCounters()));
    return c;
  }

  resetCounters(): void {
    for (const [id, c] of this.counters) this.counters.set(id, { ...newCounters(), inFlight: c.inFlight });
  }

  private window(map: Map<string, Window>, key: string, windowMs: number, now: number): Window {
    let w = map.get(key);
    if (!w || now - w.start >= windowMs) map.set(key, (w = { start: now, used: 0 }));
    return w;
  }

  admit(mailboxId: string, operation: string, now = Date.now()): Admission {
    const { limits } = this;
    const counters = this.countersFor(mailboxId);
    this.freeHeldSlots(mailboxId, now);
    counters.requests[operation] = (counters.requests[operation] ?? 0) + 1;
    counters.maxInFlight = Math.max(counters.maxInFlight, counters.inFlight + 1);
    if (counters.inFlight >= limits.maxConcurrentPerMailbox)
      return refuse(counters, limits.concurrencyRetryAfterSeconds, 'Application is over its MailboxConcurrency limit.');
    const requestWindow = this.window(this.requestWindows, mailboxId, limits.requestBudget.windowMs, now);
    if (requestWindow.used >= limits.requestBudget.requests) {
      const retryAfter = secondsLeft(requestWindow, limits.requestBudget.windowMs, now);
      return refuse(counters, retryAfter, 'Application is over its request limit for this mailbox.');
    }
    if (operation === 'importItem') {
      const uploadWindow = this.window(this.uploadWindows, mailboxId, limits.uploadBudget.windowMs, now);
      if (uploadWindow.used >= limits.uploadBudget.bytes)
        return refuse(
          counters,
          secondsLeft(uploadWindow, limits.uploadBudget.windowMs, now),
          'Application is over its IncomingBytes limit.',
        );
    }
    requestWindow.used++;
    counters.inFlight++;
    let released = false;
    return {
      ok: true,
      release: (holdMs = 0, endedAt = Date.now()) => {
        if (released) return;
        released = true;
        if (holdMs > 0) this.holdSlot(mailboxId, endedAt + holdMs);
        else this.countersFor(mailboxId).inFlight--;
      },
    };
  }

  /** Free from `freeAt` on, however late its timer runs: the next admission frees it first. */
  private holdSlot(mailboxId: string, freeAt: number): void {
    const held = this.heldSlots.get(mailboxId) ?? [];
    this.heldSlots.set(mailboxId, held);
    const slot: HeldSlot = {
      freeAt,
      free: () => {
        const at = held.indexOf(slot);
        if (at < 0) return;
        held.splice(at, 1);
        this.countersFor(mailboxId).inFlight--;
      },
    };
    held.push(slot);
    // A timer frees it too when no request comes, so the counters (`/stats`, tests) settle.
    setTimeout(slot.free, Math.max(0, freeAt - Date.now())).unref();
  }

  private freeHeldSlots(mailboxId: string, now: number): void {
    for (const slot of [...(this.heldSlots.get(mailboxId) ?? [])]) if (slot.freeAt <= now) slot.free();
  }

  /** Upload bytes count against the mailbox's window as they arrive. */
  addUpload(mailboxId: string, bytes: number, now = Date.now()): void {
    this.window(this.uploadWindows, mailboxId, this.limits.uploadBudget.windowMs, now).used += bytes;
    this.countersFor(mailboxId).uploads.push({ at: now, bytes });
  }

  /** The scripted fault for this request, if any (consumed), matched by operation and mailbox. */
  takeScripted(
    operation: string,
    mailboxId: string | undefined,
    upn: string | undefined,
    kinds?: FaultKind[],
  ): ScriptedFault | undefined {
    const at = this.scripted.findIndex(
      (f) =>
        (!f.operation || f.operation === operation) &&
        (!f.mailbox || f.mailbox === mailboxId || f.mailbox.toLowerCase() === upn?.toLowerCase()) &&
        (!kinds || kinds.includes(f.fault)),
    );
    if (at < 0) return undefined;
    const fault = this.scripted[at]!;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.scripted.splice(at, 1);
    return fault;
  }

  chance(rate: number): boolean {
    return rate > 0 && this.random.next() < rate;
  }
}

function refuse(counters: MailboxCounters, retryAfterSeconds: number, message: string): Admission {
  counters.throttled++;
  return { ok: false, retryAfterSeconds, code: 'ApplicationThrottled', message };
}

/** Whole seconds (at least one) until the window starts over. */
function secondsLeft(window: Window, windowMs: number, now: number): number {
  return Math.max(1, Math.ceil((window.start + windowMs - now) / 1000));
}
