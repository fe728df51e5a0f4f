import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BlobLeaseClient, BlockBlobClient, RestError } from '@azure/storage-blob';
import { updateJson } from '../../shared/vault/conditionalJson.js';
import { layout } from '../../shared/vault/layout.js';
import {
  claimMailbox,
  releaseClaim,
  runIsDone,
  withMailboxLease,
  type MailboxOwner,
} from '../../shared/vault/mailboxOwner.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

/**
 * The mailbox's lease and owner record, and conditional JSON updates, on Azurite directly (quick enough for
 * mutation testing): the owner record is created once and never reset, writes need the lease, the lease is
 * given back, waiting has a deadline, and a claim is granted, refused, taken over and released by the rules.
 */

const KEY = 'b'.repeat(32);
const OWNER = layout.byKey.owner(KEY);
const RUN = 'backup-20261123T020000Z';
const LATER_RUN = 'backup-20261123T091500Z-1a2b3c4d';
const now = new Date('2026-11-23T02:00:00Z');
let vault: VaultStore;

beforeEach(async () => {
  ({ vault } = await freshVault('lease'));
});

afterEach(() => {
  vi.restoreAllMocks();
});

const owner = async () => (await vault.readJson<MailboxOwner>(OWNER))!;
/** Lets a renewal that is due (fake interval) answer; setTimeout stays real. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
const leaseState = async () => (await vault.container.getBlobClient(OWNER).getProperties()).leaseState;

describe('the mailbox lease', () => {
  it('creates the owner record once and never resets it', async () => {
    await withMailboxLease(vault, KEY, async (held) => {
      expect(await held.read()).toEqual({ holder: null, prunes: 0 });
      await held.write({ holder: null, prunes: 3 });
    });
    await withMailboxLease(vault, KEY, async (held) => {
      expect(await held.read()).toEqual({ holder: null, prunes: 3 });
    });
    expect(await owner()).toEqual({ holder: null, prunes: 3 });
  });

  it('is held during the work, gives the work’s answer, and is given back after it, also when it throws', async () => {
    expect(
      await withMailboxLease(vault, KEY, async (held) => {
        expect(held.mailboxKey).toBe(KEY);
        expect(await leaseState()).toBe('leased');
        held.assertHeld();
        return 'answer';
      }),
    ).toBe('answer');
    expect(await leaseState()).toBe('available');
    await expect(
      withMailboxLease(vault, KEY, async () => {
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    expect(await leaseState()).toBe('available');
  });

  it('writes the owner record under the lease, as JSON', async () => {
    await withMailboxLease(vault, KEY, async (held) => {
      // Without the lease id the record cannot be written: nobody else can, either.
      await expect(vault.writeJson(OWNER, { holder: null, prunes: 9 })).rejects.toMatchObject({ statusCode: 412 });
      await held.write({ holder: null, prunes: 1 });
    });
    expect(await owner()).toEqual({ holder: null, prunes: 1 });
    expect((await vault.container.getBlobClient(OWNER).getProperties()).contentType).toBe('application/json');
  });

  it('refuses to write once a renewal failed, and renews while held', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const renew = vi.spyOn(BlobLeaseClient.prototype, 'renewLease');
    try {
      await withMailboxLease(vault, KEY, async (held) => {
        vi.advanceTimersByTime(20_000);
        await settle();
        expect(renew).toHaveBeenCalledTimes(1);
        held.assertHeld(); // the renewal succeeded
        renew.mockRejectedValueOnce(new RestError('lease lost', { statusCode: 409 }));
        vi.advanceTimersByTime(19_999);
        expect(renew).toHaveBeenCalledTimes(1);
        vi.advanceTimersByTime(1);
        await settle();
        expect(() => held.assertHeld()).toThrow(/Lost the lease on .*owner/);
        await expect(held.write({ holder: null, prunes: 5 })).rejects.toThrow(/Lost the lease/);
      });
      // No renewal after the work ended.
      vi.advanceTimersByTime(60_000);
      expect(renew).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
    expect(await owner()).toEqual({ holder: null, prunes: 0 });
  });

  it('waits for another holder, and passes on a failure that is not "leased"', async () => {
    await withMailboxLease(vault, KEY, async () => undefined);
    const other = vault.container.getBlobClient(OWNER).getBlobLeaseClient();
    await other.acquireLease(-1);
    let entered = false;
    const waiter = withMailboxLease(vault, KEY, async () => {
      entered = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(entered).toBe(false);
    await other.releaseLease();
    await waiter;
    expect(entered).toBe(true);

    vi.spyOn(BlobLeaseClient.prototype, 'acquireLease').mockRejectedValue(
      new RestError('server busy', { statusCode: 503 }),
    );
    await expect(withMailboxLease(vault, KEY, async () => undefined)).rejects.toMatchObject({ statusCode: 503 });
  });

  it('stops waiting after five minutes', async () => {
    await withMailboxLease(vault, KEY, async () => undefined);
    await vault.container.getBlobClient(OWNER).getBlobLeaseClient().acquireLease(-1);
    const start = 1_700_000_000_000;
    // The clock as the waiter reads it: the start, then exactly the deadline (still waiting), then past it.
    const clock = [start, start + 5 * 60_000, start + 5 * 60_000 + 1];
    vi.spyOn(Date, 'now').mockImplementation(() => clock.shift() ?? start + 10 * 60_000);
    const acquire = vi.spyOn(BlobLeaseClient.prototype, 'acquireLease');
    await expect(withMailboxLease(vault, KEY, async () => undefined)).rejects.toMatchObject({ statusCode: 409 });
    expect(acquire).toHaveBeenCalledTimes(2);
  });
});

describe('a backup run’s claim', () => {
  it('records the holder with the prunes so far; a retried claim leaves it as it was', async () => {
    await withMailboxLease(vault, KEY, (held) => held.write({ holder: null, prunes: 4 }));
    expect(await claimMailbox(vault, KEY, RUN, now)).toEqual({ granted: true });
    const claimed = { holder: { runId: RUN, claimedAt: now.toISOString(), prunesAtClaim: 4 }, prunes: 4 };
    expect(await owner()).toEqual(claimed);
    expect(await claimMailbox(vault, KEY, RUN, new Date('2026-11-23T03:00:00Z'))).toEqual({ granted: true });
    expect(await owner()).toEqual(claimed);
  });

  it('is refused while the holder runs, and taken over once it ended or reported', async () => {
    await claimMailbox(vault, KEY, RUN, now);
    const ended = vi.fn(async (run: string) => run === 'nobody');
    expect(await claimMailbox(vault, KEY, LATER_RUN, now, { hasEnded: ended })).toEqual({
      granted: false,
      runningRun: RUN,
    });
    expect(ended).toHaveBeenCalledWith(RUN);
    expect(await claimMailbox(vault, KEY, LATER_RUN, now, { hasEnded: async (run) => run === RUN })).toEqual({
      granted: true,
    });
    expect((await owner()).holder?.runId).toBe(LATER_RUN);
    // The run's report (all mailboxes done) makes its claim stale too.
    await vault.writeJson(layout.runReport(LATER_RUN), { status: 'Completed' });
    expect(await claimMailbox(vault, KEY, RUN, now)).toEqual({ granted: true });
    expect((await owner()).holder?.runId).toBe(RUN);
  });

  it('is refused to a run that started before the newest snapshot was taken, naming it; granted otherwise', async () => {
    const noon = new Date('2026-11-23T12:00:00Z');
    const newest = { snapshotId: '20261123T091500Z-0001a2b3', runId: 'backup-20261123T091500Z-1a2b3c4d' };
    await vault.writeJson(layout.byKey.snapshotRecord(KEY, newest.snapshotId), {
      ...newest,
      takenAt: '2026-11-23T09:15:00.000Z',
    });
    await vault.writeJson(layout.byKey.deltaState(KEY), { itemDeltaLinks: {}, lastSnapshotId: newest.snapshotId });
    const claim = (runId: string, startedAt: string) => claimMailbox(vault, KEY, runId, noon, { startedAt });

    expect(await claim('backup-20261123T020000Z', '2026-11-23T02:00:00.000Z')).toEqual({
      granted: false,
      runningRun: newest.runId,
      newerSnapshotId: newest.snapshotId,
    });
    expect((await owner()).holder).toBeNull(); // refused: no holder written
    expect(await claim('backup-20261123T091500Z-99999999', '2026-11-23T09:14:59.999Z')).toMatchObject({
      granted: false,
    });
    // The newest snapshot's own run (restarted), and runs started at or after it, are granted.
    expect(await claim(newest.runId, '2026-11-23T09:15:00.000Z')).toEqual({ granted: true });
    await vault.writeJson(layout.byKey.runMailboxResult(newest.runId, KEY), { status: 'Completed' });
    expect(await claim('backup-20261123T091500Z-2c3d4e5f', '2026-11-23T09:15:00.000Z')).toEqual({ granted: true });
    // A retried claim by the holder is granted again, whatever it started before.
    expect(await claim('backup-20261123T091500Z-2c3d4e5f', '2026-11-23T02:00:00.000Z')).toEqual({ granted: true });
    // Without its start, as an orchestration from before this rule asks, the claim is the owner check alone.
    await vault.writeJson(layout.byKey.runMailboxResult('backup-20261123T091500Z-2c3d4e5f', KEY), {});
    expect(await claimMailbox(vault, KEY, 'backup-20261123T020000Z', noon)).toEqual({ granted: true });
  });

  it('is granted to a run with its start on a mailbox never backed up (no delta state yet)', async () => {
    expect(await claimMailbox(vault, KEY, RUN, now, { startedAt: now.toISOString() })).toEqual({ granted: true });
    expect((await owner()).holder?.runId).toBe(RUN);
  });

  it('knows a run done with the mailbox by its mailbox result or its report, and no other', async () => {
    expect(await runIsDone(vault, RUN, KEY)).toBe(false);
    await vault.writeJson(layout.byKey.runMailboxResult(RUN, 'c'.repeat(32)), { status: 'Completed' });
    expect(await runIsDone(vault, RUN, KEY)).toBe(false);
    await vault.writeJson(layout.byKey.runMailboxResult(RUN, KEY), { status: 'Completed' });
    expect(await runIsDone(vault, RUN, KEY)).toBe(true);
    expect(await runIsDone(vault, LATER_RUN, KEY)).toBe(false);
    await vault.writeJson(layout.runReport(LATER_RUN), {});
    expect(await runIsDone(vault, LATER_RUN, KEY)).toBe(true);
  });

  it('is released only by its holder, keeping the prune count', async () => {
    await withMailboxLease(vault, KEY, (held) => held.write({ holder: null, prunes: 2 }));
    await claimMailbox(vault, KEY, RUN, now);
    await withMailboxLease(vault, KEY, (held) => releaseClaim(held, LATER_RUN));
    expect((await owner()).holder?.runId).toBe(RUN);
    await withMailboxLease(vault, KEY, (held) => releaseClaim(held, RUN));
    expect(await owner()).toEqual({ holder: null, prunes: 2 });
  });
});

describe('a conditional JSON update', () => {
  const NAME = 'counters/c.json';
  const increment = (current: { n: number }) => ({ next: { n: current.n + 1 }, answer: current.n + 1 });

  it('starts from the initial value, and every one of many concurrent updates lands', async () => {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => updateJson(vault, NAME, () => ({ n: 0 }), increment)),
    );
    expect(answers.sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await vault.readJson(NAME)).toEqual({ n: 6 });
    expect((await vault.container.getBlobClient(NAME).getProperties()).contentType).toBe('application/json');
  });

  it('writes nothing when the change says so, and still answers', async () => {
    expect(
      await updateJson(
        vault,
        NAME,
        () => ({ n: 0 }),
        () => ({ answer: 'none' }),
      ),
    ).toBe('none');
    expect(await vault.readJson(NAME)).toBeUndefined();
  });

  it('never overwrites a record it did not read: a lost race reads again', async () => {
    const realUpload = BlockBlobClient.prototype.upload;
    let races = 0;
    // Another writer lands between each update's read and its write, for the first two tries.
    vi.spyOn(BlockBlobClient.prototype, 'upload').mockImplementation(async function (this: BlockBlobClient, ...args) {
      if (races < 2) await vault.writeJson(NAME, { n: 100 * ++races });
      return realUpload.apply(this, args);
    });
    const seen: number[] = [];
    const answer = await updateJson(
      vault,
      NAME,
      () => ({ n: 0 }),
      (current: { n: number }) => (seen.push(current.n), increment(current)),
    );
    expect(seen).toEqual([0, 100, 200]);
    expect(answer).toBe(201);
    expect(await vault.readJson(NAME)).toEqual({ n: 201 });
  });

  it('reads a record that is empty as null, and passes on failures other than a conflict', async () => {
    await vault.writeText(NAME, '');
    expect(
      await updateJson(
        vault,
        NAME,
        () => 'initial',
        (current) => ({ answer: current }),
      ),
    ).toBeNull();
    const missing = (await freshVault('lease')).vault;
    await missing.container.delete();
    await expect(updateJson(missing, NAME, () => ({ n: 0 }), increment)).rejects.toMatchObject({ statusCode: 404 });
  });
});
