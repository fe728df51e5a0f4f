import type { BlobLeaseClient, ContainerClient } from '@azure/storage-blob';
import type { SharedMailboxLimits, SharedSlot, UploadEnded } from '../graph/mailboxLimiter.js';
import { keyOf } from './layout.js';
import { isStatus } from './restStatus.js';
import { VaultUploadBudget } from './uploadBudget.js';
import type { LedgerCounts } from './uploadLedger.js';
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
  renewTimer?: NodeJS.Timeout;
}

/** Blob requests this process made to coordinate, for measurements. */
export interface SlotRequestCounts extends LedgerCounts {
  leaseAcquires: number;
  leaseAcquiresRefused: number;
  leaseRenewals: number;
  leaseReleases: number;
}

/**
 * A target mailbox's limits held in total by every instance working on it, coordinated through the vault:
 *
 * - **4 requests in flight**: `limits/{mailbox}/slot-0..3` are blobs whose 60 s leases are the slots. A request
 *   needs a slot its process leases; a process keeps a leased slot for its next request (renewed every 15 s),
 *   gives it back after a second unused or after 30 s of use, and polls for a free one when all four are leased.
 * - **Upload budget**: `limits/{mailbox}/upload-ledger.json` is a ledger of reservations (uploadBudget.ts): a
 *   reservation's bytes count from when it is made until a window after its last upload ended, and one is made
 *   only while the bytes that count, with its own, fit the budget.
 */
export class VaultMailboxLimits implements SharedMailboxLimits {
  readonly counts: SlotRequestCounts = {
    leaseAcquires: 0,
    leaseAcquiresRefused: 0,
    leaseRenewals: 0,
    leaseReleases: 0,
    uploadReservations: 0,
    reservationsRefused: 0,
    reservationCloses: 0,
    reservationTrims: 0,
    ledgerRequests: 0,
  };
  private readonly mailboxes = new Map<string, MailboxState>();
  private readonly container: ContainerClient;
  private readonly uploads: VaultUploadBudget | undefined;

  constructor(
    private readonly vault: VaultStore,
    private readonly maxInFlight: number,
    /** The mailbox's upload budget (null: uploads are not held to one), and the longest an upload can take. */
    budget: { bytes: number; windowMs: number } | null,
    uploadTimeoutMs: number,
  ) {
    this.container = vault.container;
    this.uploads = budget ? new VaultUploadBudget(vault, budget, uploadTimeoutMs, this.counts) : undefined;
  }

  async acquireSlot(mailboxId: string, signal?: AbortSignal): Promise<SharedSlot> {
    const state = this.state(mailboxId);
    const slot = state.slots.find((s) => !s.busy) ?? (await this.newSlot(mailboxId, state, signal));
    this.take(slot);
    return { release: () => this.release(state, slot) };
  }

  async paceUpload(mailboxId: string, bytes: number, signal?: AbortSignal): Promise<UploadEnded> {
    if (!this.uploads || bytes <= 0) return () => undefined;
    return this.uploads.admit(mailboxId, bytes, signal);
  }

  private state(mailboxId: string): MailboxState {
    let state = this.mailboxes.get(mailboxId);
    if (!state) {
      state = { slots: [], waiters: [], slotBlobsExist: false };
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
}

const slotBlob = (mailboxId: string, index: number) => `limits/${keyOf(mailboxId)}/slot-${index}`;
