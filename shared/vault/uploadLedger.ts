import { updateJson } from './conditionalJson.js';
import { keyOf } from './layout.js';
import type { VaultStore } from './vaultStore.js';

/** Waiting on bytes that open entries hold: how soon to read the ledger again. */
const OPEN_ENTRY_POLL_MS = 100;

/**
 * One reservation of a mailbox's upload budget. Its bytes count against the budget until `countsUntil`: the end
 * of its last upload plus a window (and the clock margin), or, while its holder may still be using it, a bound
 * on that which lets it lapse by itself if the holder crashes.
 */
export interface LedgerEntry {
  id: string;
  bytes: number;
  countsUntil: number;
  /** Its holder may still start uploads from it; it is settled (made smaller, and sooner to lapse) when done. */
  open?: true;
}

/** `limits/{mailbox}/upload-ledger.json`: the reservations of every instance that still count. */
export interface UploadLedger {
  entries: LedgerEntry[];
}

/** A reservation's outcome: bytes granted, or the time at which enough of the budget will have come free. */
export type ReservationAnswer = { granted: number } | { retryAt: number };

export interface ReservationAsk {
  id: string;
  /** Bytes the reservation would like (a chunk of several uploads). */
  want: number;
  /** Bytes it needs at least (the upload waiting for it). */
  need: number;
  budgetBytes: number;
  now: number;
  /** Until when the entry counts while open. */
  countsUntil: number;
}

/**
 * Grants `want`, or what is left of the budget if that is at least `need`. An upload larger than the whole
 * budget is granted once nothing else counts (it cannot be held under the budget; it is at least alone).
 */
export function reserveIn(
  ledger: UploadLedger | null,
  ask: ReservationAsk,
): { next?: UploadLedger; answer: ReservationAnswer } {
  const entries = stillCounting(ledger, ask.now);
  const free = ask.budgetBytes - entries.reduce((sum, e) => sum + e.bytes, 0);
  const need = Math.min(ask.need, ask.budgetBytes);
  if (free < need) return { answer: { retryAt: whenFree(entries, need - free, ask.now) } };
  const granted = Math.max(ask.need, Math.min(ask.want, free));
  return {
    next: { entries: [...entries, { id: ask.id, bytes: granted, countsUntil: ask.countsUntil, open: true }] },
    answer: { granted },
  };
}

/** The reservation settled at what its uploads used; unused bytes are free at once, and nothing used is removed. */
export function closeIn(
  ledger: UploadLedger | null,
  close: { id: string; used: number; countsUntil: number; now: number },
): { next: UploadLedger; answer: undefined } {
  const entries = stillCounting(ledger, close.now).filter((e) => e.id !== close.id);
  if (close.used > 0 && close.countsUntil > close.now)
    entries.push({ id: close.id, bytes: close.used, countsUntil: close.countsUntil });
  return { next: { entries }, answer: undefined };
}

/**
 * The open reservation made to count only what its uploads took: no more start from it, so its unused bytes
 * are free at once, while those taken count on until it is settled (its uploads may still be arriving).
 */
export function trimIn(
  ledger: UploadLedger | null,
  trim: { id: string; used: number; now: number },
): { next: UploadLedger; answer: undefined } {
  const entries = stillCounting(ledger, trim.now)
    .map((e) => (e.id === trim.id && e.open ? { ...e, bytes: Math.min(e.bytes, trim.used) } : e))
    .filter((e) => e.bytes > 0);
  return { next: { entries }, answer: undefined };
}

/** Entries that count at `now`; anything else in the blob (an unknown shape) counts as nothing. */
function stillCounting(ledger: UploadLedger | null, now: number): LedgerEntry[] {
  const entries = Array.isArray(ledger?.entries) ? ledger.entries : [];
  return entries.filter((e) => e.countsUntil > now && e.bytes > 0);
}

/**
 * When to ask again: the earliest time at which entries lapsing in order free at least `bytes`. An open entry
 * lapses only long after it is settled, which its holder does as soon as its uploads have ended: the ledger is
 * read again soon rather than at its bound.
 */
function whenFree(entries: LedgerEntry[], bytes: number, now: number): number {
  const lapses = entries
    .map((e) => ({ bytes: e.bytes, at: e.open ? Math.min(e.countsUntil, now + OPEN_ENTRY_POLL_MS) : e.countsUntil }))
    .sort((a, b) => a.at - b.at);
  let freed = 0;
  for (const lapse of lapses) {
    freed += lapse.bytes;
    if (freed >= bytes) return lapse.at;
  }
  return Math.max(now, ...lapses.map((l) => l.at));
}

/** The ledger's blob requests, for measurements: a GET and a conditional PUT per try. */
export interface LedgerCounts {
  uploadReservations: number;
  reservationsRefused: number;
  reservationCloses: number;
  reservationTrims: number;
  ledgerRequests: number;
}

/** Read-modify-writes of one mailbox's ledger blob, conditional on its ETag. */
export class UploadLedgerBlob {
  constructor(
    private readonly vault: VaultStore,
    readonly counts: LedgerCounts,
  ) {}

  async reserve(mailboxId: string, ask: Omit<ReservationAsk, 'now'>): Promise<ReservationAnswer> {
    this.counts.uploadReservations++;
    const answer = await this.update(mailboxId, (ledger) => reserveIn(ledger, { ...ask, now: Date.now() }));
    if ('retryAt' in answer) this.counts.reservationsRefused++;
    return answer;
  }

  async close(mailboxId: string, close: { id: string; used: number; countsUntil: number }): Promise<void> {
    this.counts.reservationCloses++;
    await this.update(mailboxId, (ledger) => closeIn(ledger, { ...close, now: Date.now() }));
  }

  async trim(mailboxId: string, trim: { id: string; used: number }): Promise<void> {
    this.counts.reservationTrims++;
    await this.update(mailboxId, (ledger) => trimIn(ledger, { ...trim, now: Date.now() }));
  }

  private update<R>(
    mailboxId: string,
    change: (ledger: UploadLedger | null) => { next?: UploadLedger; answer: R },
  ): Promise<R> {
    return updateJson<UploadLedger | null, R>(
      this.vault,
      ledgerBlob(mailboxId),
      () => ({ entries: [] }),
      (ledger) => {
        const result = change(ledger);
        this.counts.ledgerRequests += result.next ? 2 : 1; // the GET, and the conditional PUT if anything changed
        return result;
      },
    );
  }
}

const ledgerBlob = (mailboxId: string) => `limits/${keyOf(mailboxId)}/upload-ledger.json`;
