import { randomUUID } from 'node:crypto';
import type { UploadEnded } from '../graph/mailboxLimiter.js';
import { delay } from '../graph/retry.js';
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
  /** Set when the ledger refused: when to ask again. */
  retryAt: number;
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
    for (;;) {
      signal?.throwIfAborted();
      const chunk = state.current;
      if (chunk && Date.now() < chunk.useUntil && chunk.granted - chunk.used >= bytes)
        return this.take(state, chunk, bytes);
      if (chunk) this.retire(state, chunk);
      const wait = state.retryAt - Date.now();
      if (wait > 0) {
        await delay(Math.ceil(wait + Math.random() * RETRY_JITTER_MS), signal);
        continue;
      }
      // One reservation at a time per mailbox; uploads waiting together share it.
      state.reserving ??= this.reserve(state, bytes).finally(() => {
        state.reserving = undefined;
      });
      await state.reserving;
    }
  }

  private state(mailboxId: string): MailboxBudget {
    let state = this.mailboxes.get(mailboxId);
    if (!state) this.mailboxes.set(mailboxId, (state = { mailboxId, retryAt: 0 }));
    return state;
  }

  private async reserve(state: MailboxBudget, bytes: number): Promise<void> {
    const id = randomUUID();
    const now = Date.now();
    const useUntil = now + USE_FOR_MS;
    // Open, it counts until any upload it starts must have ended, and a window on: a crashed holder's lapses.
    const countsUntil = useUntil + this.uploadTimeoutMs + this.budget.windowMs + this.clockMarginMs;
    const answer = await this.ledger.reserve(state.mailboxId, {
      id,
      want: Math.max(bytes, this.chunkBytes),
      need: bytes,
      budgetBytes: this.budget.bytes,
      countsUntil,
    });
    if ('retryAt' in answer) {
      state.retryAt = answer.retryAt;
      return;
    }
    const chunk: Chunk = { id, granted: answer.granted, used: 0, inFlight: 0, lastEnd: 0, useUntil, retired: false };
    // Given back if nothing uses it (the uploads that waited for it were canceled).
    chunk.idleTimer = setTimeout(() => this.retire(state, chunk), IDLE_CLOSE_MS).unref();
    state.current = chunk;
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
      if (chunk.retired) return void this.settle(state, chunk);
      chunk.idleTimer = setTimeout(() => this.retire(state, chunk), IDLE_CLOSE_MS).unref();
    };
  }

  /** No more uploads start from the chunk; it is settled once those under way have ended. */
  private retire(state: MailboxBudget, chunk: Chunk): void {
    if (chunk.retired) return;
    chunk.retired = true;
    clearTimeout(chunk.idleTimer);
    if (state.current === chunk) state.current = undefined;
    if (chunk.inFlight === 0) void this.settle(state, chunk);
  }

  /**
   * The chunk's entry counts what its uploads used, until a window after the last of them ended. Should this
   * write fail, the open entry still lapses by itself, later.
   */
  private async settle(state: MailboxBudget, chunk: Chunk): Promise<void> {
    const countsUntil = chunk.lastEnd + this.budget.windowMs + this.clockMarginMs;
    await this.ledger.close(state.mailboxId, { id: chunk.id, used: chunk.used, countsUntil }).catch(() => undefined);
  }
}
