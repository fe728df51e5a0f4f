import type { BlobLeaseClient, ContainerClient } from '@azure/storage-blob';
import type { SharedMailboxLimits, SharedSlot } from '../graph/mailboxLimiter.js';
import { delay } from '../graph/retry.js';
import { updateJson } from './conditionalJson.js';
import { keyOf } from './layout.js';
import { isStatus } from './restStatus.js';
import type { VaultStore } from './vaultStore.js';

/** A slot's lease: long enough that a renewal every RENEW_EVERY_MS never lets it lapse while held. */
const LEASE_SECONDS = 60;
const RENEW_EVERY_MS = 15_000;
/** A slot this process holds but does not use is given back after this long, for other instances to take. */
const IDLE_RELEASE_MS = 1_000;
/** A slot in use this long is given back when its request ends, so a busy instance cannot keep every slot. */
const MAX_HOLD_MS = 30_000;
/** Waiting for another instance's slot: first poll, then up to this (with jitter). */
const POLL_FIRST_MS = 50;
const POLL_MAX_MS = 1_000;
/** An upload may start this much after its booked time; later, it books again. */
const LATE_TOLERANCE_MS = 100;
/** Share of the upload budget one reservation takes: small enough to waste little when a restore ends. */
const RESERVATION_SHARE = 1 / 64;

interface Slot {
  index: number;
  lease: BlobLeaseClient;
  busy: boolean;
  heldSince: number;
  idleTimer?: NodeJS.Timeout;
}

/** This process's part of one mailbox's shared limits. */
interface MailboxState {
  slots: Slot[];
  waiters: Array<(slot: Slot) => void>;
  slotBlobsExist: boolean;
  /** The upload grant this process holds: it may start uploads from `start`, each one paid before `end`. */
  grant: { start: number; end: number };
  /** When this process's uploads so far are paid for at the paced rate. */
  paidUntil: number;
  /** The reservation under way, which uploads that need one wait for together. */
  reserving?: Promise<{ start: number; end: number }>;
  renewTimer?: NodeJS.Timeout;
}

/** Blob requests this process made to coordinate, for measurements. */
export interface SlotRequestCounts {
  leaseAcquires: number;
  leaseAcquiresRefused: number;
  leaseRenewals: number;
  leaseReleases: number;
  uploadReservations: number;
  /** GET and conditional PUT of the upload ledger, conflicts included. */
  ledgerRequests: number;
}

/**
 * A target mailbox's limits held in total by every instance working on it, coordinated through the vault:
 *
 * - **4 requests in flight**: `limits/{mailbox}/slot-0..3` are blobs whose 60 s leases are the slots. A request
 *   needs a slot its process leases; a process keeps a leased slot for its next request (renewed every 15 s),
 *   gives it back after a second unused or after 30 s of use, and polls for a free one when all four are leased.
 * - **Upload budget**: `limits/{mailbox}/uploads.json` is the budget's ledger (the time until which the uploads
 *   of every instance are paid for at 95% of the budget's rate), advanced with ETag-conditional writes. A process
 *   reserves a slice of the budget's time at once (1/64 of the window, or one item's worth if larger) and paces
 *   its uploads inside it, so the uploads of all instances occupy disjoint stretches of time.
 */
export class VaultMailboxLimits implements SharedMailboxLimits {
  readonly counts: SlotRequestCounts = {
    leaseAcquires: 0,
    leaseAcquiresRefused: 0,
    leaseRenewals: 0,
    leaseReleases: 0,
    uploadReservations: 0,
    ledgerRequests: 0,
  };
  private readonly mailboxes = new Map<string, MailboxState>();
  private readonly container: ContainerClient;
  /** Paced upload rate in bytes per millisecond. */
  private readonly bytesPerMs: number;
  private readonly reservationBytes: number;

  constructor(
    private readonly vault: VaultStore,
    private readonly maxInFlight: number,
    budget: { bytes: number; windowMs: number; paceShare: number } | null,
  ) {
    this.container = vault.container;
    this.bytesPerMs = budget ? (budget.bytes / budget.windowMs) * budget.paceShare : 0;
    this.reservationBytes = budget ? budget.bytes * RESERVATION_SHARE : 0;
  }

  async acquireSlot(mailboxId: string, signal?: AbortSignal): Promise<SharedSlot> {
    const state = this.state(mailboxId);
    const slot = state.slots.find((s) => !s.busy) ?? (await this.newSlot(mailboxId, state, signal));
    this.take(slot);
    return { release: () => this.release(state, slot) };
  }

  async paceUpload(mailboxId: string, bytes: number, signal?: AbortSignal): Promise<void> {
    if (!this.bytesPerMs || bytes <= 0) return;
    const state = this.state(mailboxId);
    const cost = bytes / this.bytesPerMs;
    for (;;) {
      const now = Date.now();
      const startAt = Math.max(now, state.paidUntil, state.grant.start);
      if (startAt + cost > state.grant.end) {
        // What is left of the grant cannot pay for this upload: the next stretch is reserved (one reservation
        // at a time per mailbox; uploads waiting together share it).
        state.reserving ??= this.reserve(mailboxId, Math.max(bytes, this.reservationBytes)).finally(() => {
          state.reserving = undefined;
        });
        const next = await state.reserving;
        // Right after this process's grant: one longer grant. After another instance's: what is left lapses.
        if (next.start > state.grant.end) state.grant = next;
        else state.grant = { start: state.grant.start, end: Math.max(state.grant.end, next.end) };
        continue;
      }
      // Its stretch of the grant is booked at once, so uploads waiting together queue one pace apart. An upload
      // whose timer fired late (a busy event loop) lets its stretch pass and books again: sent anyway, it would
      // go out together with the uploads booked after it, or in the next instance's stretch.
      state.paidUntil = startAt + cost;
      if (startAt > now) await delay(Math.ceil(startAt - now), signal);
      if (Date.now() - startAt > LATE_TOLERANCE_MS) continue;
      return;
    }
  }

  private state(mailboxId: string): MailboxState {
    let state = this.mailboxes.get(mailboxId);
    if (!state) {
      state = { slots: [], waiters: [], slotBlobsExist: false, grant: { start: 0, end: 0 }, paidUntil: 0 };
      this.mailboxes.set(mailboxId, state);
    }
    return state;
  }

  private take(slot: Slot): void {
    clearTimeout(slot.idleTimer);
    slot.busy = true;
  }

  /** A slot leased anew; waits for one of this process's to come free, or polls the vault for another's. */
  private async newSlot(mailboxId: string, state: MailboxState, signal?: AbortSignal): Promise<Slot> {
    await this.ensureSlotBlobs(mailboxId, state);
    for (let wait = POLL_FIRST_MS; ; wait = Math.min(POLL_MAX_MS, wait * 2)) {
      signal?.throwIfAborted();
      const leased = await this.tryLease(mailboxId, state);
      if (leased) return leased;
      // Whichever comes first: a slot of this process freed by its request, or the next poll.
      const handedOver = await new Promise<Slot | undefined>((resolve) => {
        const onFree = (slot: Slot) => {
          clearTimeout(timer);
          resolve(slot);
        };
        const timer = setTimeout(
          () => {
            state.waiters.splice(state.waiters.indexOf(onFree), 1);
            resolve(undefined);
          },
          wait * (0.5 + Math.random()),
        );
        state.waiters.push(onFree);
      });
      if (handedOver) return handedOver;
    }
  }

  /** One slot not already this process's, a random one, if its lease is free; one request either way. */
  private async tryLease(mailboxId: string, state: MailboxState): Promise<Slot | undefined> {
    const mine = new Set(state.slots.map((s) => s.index));
    const free = Array.from({ length: this.maxInFlight }, (_, i) => i).filter((i) => !mine.has(i));
    if (free.length === 0) return undefined;
    // A random one: instances polling together do not all try slot 0, and a wait costs one request per poll.
    const index = free[Math.floor(Math.random() * free.length)]!;
    const lease = this.container.getBlobClient(slotBlob(mailboxId, index)).getBlobLeaseClient();
    try {
      this.counts.leaseAcquires++;
      await lease.acquireLease(LEASE_SECONDS);
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
      this.counts.leaseAcquiresRefused++;
      return undefined;
    }
    const slot: Slot = { index, lease, busy: false, heldSince: Date.now() };
    state.slots.push(slot);
    this.keepRenewing(state);
    return slot;
  }

  private async ensureSlotBlobs(mailboxId: string, state: MailboxState): Promise<void> {
    if (state.slotBlobsExist) return;
    for (let index = 0; index < this.maxInFlight; index++)
      await this.vault.writeJson(slotBlob(mailboxId, index), {}, { onlyIfAbsent: true });
    state.slotBlobsExist = true;
  }

  /** A request ended: its slot goes to a waiting request of this process, or back to the vault in a while. */
  private release(state: MailboxState, slot: Slot): void {
    if (!slot.busy) return;
    slot.busy = false;
    const heldTooLong = Date.now() - slot.heldSince > MAX_HOLD_MS;
    const waiter = heldTooLong ? undefined : state.waiters.shift();
    if (waiter) {
      this.take(slot);
      return waiter(slot);
    }
    if (heldTooLong) return this.giveBack(state, slot);
    slot.idleTimer = setTimeout(() => this.giveBack(state, slot), IDLE_RELEASE_MS).unref();
  }

  private giveBack(state: MailboxState, slot: Slot): void {
    if (slot.busy) return;
    state.slots.splice(state.slots.indexOf(slot), 1);
    this.counts.leaseReleases++;
    slot.lease.releaseLease().catch(() => undefined); // an expired lease needs no release
    if (state.slots.length === 0) {
      clearInterval(state.renewTimer);
      state.renewTimer = undefined;
    }
  }

  private keepRenewing(state: MailboxState): void {
    state.renewTimer ??= setInterval(() => {
      for (const slot of [...state.slots]) {
        this.counts.leaseRenewals++;
        // A slot whose lease cannot be renewed may be another's now: this process stops counting on it.
        slot.lease.renewLease().catch(() => {
          const at = state.slots.indexOf(slot);
          if (at >= 0) state.slots.splice(at, 1);
        });
      }
    }, RENEW_EVERY_MS).unref();
  }

  /** The next stretch of the mailbox's upload time, `bytes` long at the paced rate, taken from the ledger. */
  private async reserve(mailboxId: string, bytes: number): Promise<{ start: number; end: number }> {
    this.counts.uploadReservations++;
    return updateJson<{ paidUntil: number }, { start: number; end: number }>(
      this.vault,
      ledgerBlob(mailboxId),
      () => ({ paidUntil: 0 }),
      (ledger) => {
        this.counts.ledgerRequests += 2;
        const start = Math.max(Date.now(), ledger.paidUntil);
        const end = start + bytes / this.bytesPerMs;
        return { next: { paidUntil: end }, answer: { start, end } };
      },
    );
  }
}

const slotBlob = (mailboxId: string, index: number) => `limits/${keyOf(mailboxId)}/slot-${index}`;
const ledgerBlob = (mailboxId: string) => `limits/${keyOf(mailboxId)}/uploads.json`;
