import { randomUUID } from 'node:crypto';
import type { UploadEnded } from '../graph/mailboxLimiter.js';
import { UploadLedgerBlob, type LedgerCounts } from './uploadLedger.js';
import type { VaultStore } from './vaultStore.js';

/** Share of the budget one reservation asks for: a few uploads' worth, so a reservation serves several. */
const CHUNK_SHARE = 1 / 8;
/** A reservation starts uploads for at most this long; its open entry lapses by itself this long after, plus more. */
const USE_FOR_MS = 30_000;
/** A reservation nothing has used for this long is settled, its unused bytes given back. */
const IDLE_CLOSE_MS = 1_000;
/** How far apart instances' clocks may be, as a share of the window: every entry counts this much longer. */
export const CLOCK_MARGIN_SHARE = 1 / 100;
/** Spread of the retries of instances told the same time to come back. */
const RETRY_JITTER_MS = 20;

/** A reservation this process holds: uploads start from it while it is current and has bytes left. */
interface Chunk {
  id: string;
  granted: number;
  used: number;
  inFlight: number;
  /** When the last of its uploads ended (its answer arrived, or it failed). */
  lastEnd: number;
  useUntil: number;
  retired: boolean;
  idleTimer?: NodeJS.Timeout;
}

interface MailboxBudget {
  mailboxId: string;
  current?: Chunk;
  reserving?: Promise<void>;
  /** Set when the ledger refused: when to ask again (sooner if this process gives bytes back meanwhile). */
  retryAt: number;
  /** Bytes of the uploads waiting for room: what the next reservation asks for, at least a chunk. */
  waitingBytes: number;
  /** Trims and settlements of this process's chunks under way: a reservation waits for them to be written. */
  releases: Set<Promise<void>>;
  /** Counts the releases written, so a refusal read before one of them is not waited out. */
  released: number;
  /** Uploads waiting for the ledger's retry time, woken as soon as this process gives bytes back. */
  sleepers: Set<() => void>;
}

/**
 * A mailbox's upload budget held in total by every instance, through a ledger of reservations in the vault
 * (uploadLedger.ts). Exchange counts bytes as they arrive; an upload's bytes arrive after its reservation was
 * made and before its answer, so a reservation's bytes count from when it is made until a window after the
 * last of its uploads ended. A reservation is made only when the bytes that still count, with its own, fit the
 * budget: then no window of the budget's length, wherever it starts, sees more than the budget arrive, however
 * long the uploads take or stall on the way.
 */
export class VaultUploadBudget {
  private readonly mailboxes = new Map<string, MailboxBudget>();
  private readonly ledger: UploadLedgerBlob;
  private readonly chunkBytes: number;
  private readonly clockMarginMs: number;

  constructor(
    vault: VaultStore,
    private readonly budget: { bytes: number; windowMs: number },
    /** The longest an upload can take from its start to its end (the Graph request timeout). */
    private readonly uploadTimeoutMs: number,
    counts: LedgerCounts,
  ) {
    this.ledger = new UploadLedgerBlob(vault, counts);
    this.chunkBytes = budget.bytes * CHUNK_SHARE;
    this.clockMarginMs = budget.windowMs * CLOCK_MARGIN_SHARE;
  }

  /** Waits until `bytes` more may be uploaded to the mailbox; call the answer once the upload has ended. */
  async admit(mailboxId: string, bytes: number, signal?: AbortSignal): Promise<UploadEnded> {
    const state = this.state(mailboxId);
    state.waitingBytes += bytes;
    try {
      for (;;) {
        signal?.throwIfAborted();
        const chunk = state.current;
        if (chunk && Date.now() < chunk.useUntil && chunk.granted - chunk.used >= bytes)
          return this.take(state, chunk, bytes);
        if (chunk) this.retire(state, chunk);
        const wait = state.retryAt - Date.now();
        if (wait > 0) {
          await this.sleep(state, Math.ceil(wait + Math.random() * RETRY_JITTER_MS), signal);
          continue;
        }
        // One reservation at a time per mailbox; uploads waiting together share it.
        state.reserving ??= this.reserve(state, bytes).finally(() => {
          state.reserving = undefined;
        });
        await state.reserving;
      }
    } finally {
      state.waitingBytes -= bytes;
    }
  }

  private state(mailboxId: string): MailboxBudget {
    let state = this.mailboxes.get(mailboxId);
    if (!state) {
      state = { mailboxId, retryAt: 0, waitingBytes: 0, releases: new Set(), released: 0, sleepers: new Set() };
      this.mailboxes.set(mailboxId, state);
    }
    return state;
  }

  private async reserve(state: MailboxBudget, bytes: number): Promise<void> {
    // The ledger is to see the bytes this process already gave back (else it would refuse for them).
    await Promise.all(state.releases);
    const released = state.released;
    const id = randomUUID();
    const now = Date.now();
    const useUntil = now + USE_FOR_MS;
    // Open, it counts until any upload it starts must have ended, and a window on: a crashed holder's lapses.
    const countsUntil = useUntil + this.uploadTimeoutMs + this.budget.windowMs + this.clockMarginMs;
    const answer = await this.ledger.reserve(state.mailboxId, {
      id,
      want: Math.max(bytes, state.waitingBytes, this.chunkBytes),
      need: bytes,
      budgetBytes: this.budget.bytes,
      countsUntil,
    });
    if ('retryAt' in answer) {
      // Bytes this process gave back while the ledger was read are worth asking again for at once.
      state.retryAt = state.released === released ? answer.retryAt : 0;
      return;
    }
    const chunk: Chunk = { id, granted: answer.granted, used: 0, inFlight: 0, lastEnd: 0, useUntil, retired: false };
    // Given back if nothing uses it (the uploads that waited for it were canceled).
    chunk.idleTimer = setTimeout(() => this.retire(state, chunk), IDLE_CLOSE_MS).unref();
    state.current = chunk;
  }

  /** Waits `ms`, or less if this process gives bytes back meanwhile, or until aborted (the caller then throws). */
  private sleep(state: MailboxBudget, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        state.sleepers.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      state.sleepers.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  private take(state: MailboxBudget, chunk: Chunk, bytes: number): UploadEnded {
    chunk.used += bytes;
    chunk.inFlight++;
    clearTimeout(chunk.idleTimer);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      chunk.inFlight--;
      chunk.lastEnd = Math.max(chunk.lastEnd, Date.now());
      if (chunk.inFlight > 0) return;
      if (chunk.retired) return this.settle(state, chunk);
      chunk.idleTimer = setTimeout(() => this.retire(state, chunk), IDLE_CLOSE_MS).unref();
    };
  }

  /**
   * No more uploads start from the chunk. Its unused bytes are given back at once (its entry trimmed to what its
   * uploads took); it is settled once those under way have ended.
   */
  private retire(state: MailboxBudget, chunk: Chunk): void {
    if (chunk.retired) return;
    chunk.retired = true;
    clearTimeout(chunk.idleTimer);
    if (state.current === chunk) state.current = undefined;
    if (chunk.inFlight === 0) this.settle(state, chunk);
    else if (chunk.used < chunk.granted)
      this.release(state, () => this.ledger.trim(state.mailboxId, { id: chunk.id, used: chunk.used }));
  }

  /**
   * The chunk's entry counts what its uploads used, until a window after the last of them ended. Should this
   * write fail, the open entry still lapses by itself, later.
   */
  private settle(state: MailboxBudget, chunk: Chunk): void {
    const countsUntil = chunk.lastEnd + this.budget.windowMs + this.clockMarginMs;
    this.release(state, () => this.ledger.close(state.mailboxId, { id: chunk.id, used: chunk.used, countsUntil }));
  }

  /** Writes a release to the ledger, then wakes this process's waiting uploads to ask for the bytes it freed. */
  private release(state: MailboxBudget, write: () => Promise<void>): void {
    const done: Promise<void> = write()
      .catch(() => undefined) // a failed trim or settlement only makes its entry lapse later
      .then(() => {
        state.releases.delete(done);
        state.released++;
        state.retryAt = 0;
        for (const wake of [...state.sleepers]) wake();
      });
    state.releases.add(done);
  }
}
