import type { BlobLeaseClient } from '@azure/storage-blob';
import { layout } from './layout.js';
import type { DeltaState, SnapshotRecord } from './records.js';
import { isStatus } from './restStatus.js';
import type { VaultStore } from './vaultStore.js';
import { hookedWrite } from './writeFaults.js';

/**
 * One writer per mailbox. Two things live in one blob, `mailboxes/{key}/state/owner.json`:
 *
 * - its **lease** (60 s, renewed while held) is the mutex for every write of the mailbox's committed state:
 *   a backup's commit (manifest, snapshot record, delta.json) and a prune (expiry and sweep). A crashed holder's
 *   lease expires by itself, so nothing waits on a guess about wall-clock age;
 * - its **content** names the backup run that owns the mailbox from its plan to its commit (the claim), and
 *   counts the prunes so far, so a commit knows whether a sweep ran since its run claimed the mailbox.
 *
 * The claim outlives any one activity (a run spans many), so it is released by its holder (commit, or the
 * recorded failure); a claim whose run has recorded its mailbox result or its report, or whose orchestration has
 * ended (failed, terminated), is stale and taken over.
 */
export interface MailboxOwner {
  /** The backup run that owns the mailbox, or null. */
  holder: { runId: string; claimedAt: string; prunesAtClaim: number } | null;
  /** Prunes of this mailbox so far (each one bumps it under the lease, before it marks). */
  prunes: number;
}

const LEASE_SECONDS = 60;
const RENEW_EVERY_MS = 20_000;
const WAIT_STEP_MS = 250;
/** A prune of a big mailbox holds the lease for minutes; a commit waits this long, then Durable retries it. */
const WAIT_AT_MOST_MS = 5 * 60_000;

/** The mailbox's lease, held: read and write the owner record; `assertHeld` before a write that must be exclusive. */
export interface HeldMailbox {
  readonly mailboxKey: string;
  read(): Promise<MailboxOwner>;
  write(owner: MailboxOwner): Promise<void>;
  assertHeld(): void;
}

/**
 * Runs `work` holding the mailbox's lease, renewed every 20 s; waits (up to 5 minutes) while another worker holds
 * it. If a renewal fails the lease may be another's, so `assertHeld` throws from then on and the work stops.
 */
export async function withMailboxLease<T>(
  vault: VaultStore,
  mailboxKey: string,
  work: (held: HeldMailbox) => Promise<T>,
): Promise<T> {
  const name = layout.byKey.owner(mailboxKey);
  const blob = vault.container.getBlockBlobClient(name);
  await vault.writeJson(name, { holder: null, prunes: 0 } satisfies MailboxOwner, { onlyIfAbsent: true });
  const lease = blob.getBlobLeaseClient();
  await acquire(lease);
  let lost: unknown;
  const renewal = setInterval(() => {
    lease.renewLease().catch((error: unknown) => (lost ??= error));
  }, RENEW_EVERY_MS);
  const held: HeldMailbox = {
    mailboxKey,
    read: async () => (await vault.readJson<MailboxOwner>(name)) ?? { holder: null, prunes: 0 },
    write: async (owner) => {
      held.assertHeld();
      const text = JSON.stringify(owner);
      await hookedWrite({ op: 'putOwner', blobName: name }, () =>
        blob.upload(text, Buffer.byteLength(text), {
          conditions: { leaseId: lease.leaseId },
          blobHTTPHeaders: { blobContentType: 'application/json' },
        }),
      );
    },
    assertHeld: () => {
      if (lost) throw new Error(`Lost the lease on ${name}: another worker may own the mailbox now`);
    },
  };
  try {
    return await work(held);
  } finally {
    clearInterval(renewal);
    await lease.releaseLease().catch(() => undefined); // an expired lease needs no release
  }
}

async function acquire(lease: BlobLeaseClient): Promise<void> {
  const deadline = Date.now() + WAIT_AT_MOST_MS;
  for (;;) {
    try {
      await lease.acquireLease(LEASE_SECONDS);
      return;
    } catch (error) {
      if (!isStatus(error, 409) || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  }
}

/** Whether a backup run is done with this mailbox (its result or its report is written): its claim is stale. */
export async function runIsDone(vault: VaultStore, runId: string, mailboxKey: string): Promise<boolean> {
  return (
    (await vault.readJson(layout.byKey.runMailboxResult(runId, mailboxKey))) !== undefined ||
    (await vault.readJson(layout.runReport(runId))) !== undefined
  );
}

/**
 * Claims the mailbox for a backup run, or names the run that owns it or has backed it up since `startedAt`.
 * Idempotent: a retried claim by the holder is granted again.
 */
export async function claimMailbox(
  vault: VaultStore,
  mailboxKey: string,
  runId: string,
  now: Date,
  options: { hasEnded?: (runId: string) => Promise<boolean>; startedAt?: string } = {},
): Promise<ClaimOutcome> {
  return withMailboxLease(vault, mailboxKey, async (held) => {
    const owner = await held.read();
    const holder = owner.holder;
    const stale = async (other: string) =>
      (await runIsDone(vault, other, mailboxKey)) || ((await options.hasEnded?.(other)) ?? false);
    if (holder && holder.runId !== runId && !(await stale(holder.runId)))
      return { granted: false, runningRun: holder.runId };
    if (holder?.runId !== runId) {
      const newer = options.startedAt ? await snapshotNewerThan(vault, mailboxKey, options.startedAt) : null;
      if (newer) return { granted: false, runningRun: newer.runId, newerSnapshotId: newer.snapshotId };
      await held.write({ ...owner, holder: { runId, claimedAt: now.toISOString(), prunesAtClaim: owner.prunes } });
    }
    return { granted: true };
  });
}

/**
 * A claim's outcome. Refused when another live run owns the mailbox, or when a run that started later has
 * committed a snapshot of it since this run started (`newerSnapshotId`): a snapshot stands for its run's start, so
 * this run's would be older than the mailbox's newest, and its commit would refuse to go behind it anyway, after
 * exporting for nothing. The newer snapshot covers the mailbox; the run skips it.
 */
export type ClaimOutcome = { granted: true } | { granted: false; runningRun: string; newerSnapshotId?: string };

/** The mailbox's newest committed snapshot (its delta base), when it was taken after `startedAt`. */
async function snapshotNewerThan(
  vault: VaultStore,
  mailboxKey: string,
  startedAt: string,
): Promise<{ runId: string; snapshotId: string } | null> {
  const state = await vault.readJson<DeltaState>(layout.byKey.deltaState(mailboxKey));
  if (!state?.lastSnapshotId) return null;
  const newest = await vault.readJson<SnapshotRecord>(layout.byKey.snapshotRecord(mailboxKey, state.lastSnapshotId));
  if (!newest || Date.parse(newest.takenAt) <= Date.parse(startedAt)) return null;
  return { runId: newest.runId, snapshotId: newest.snapshotId };
}

/** Gives the mailbox up, if this run holds it (call with the lease held). */
export async function releaseClaim(held: HeldMailbox, runId: string): Promise<void> {
  const owner = await held.read();
  if (owner.holder?.runId === runId) await held.write({ ...owner, holder: null });
}
