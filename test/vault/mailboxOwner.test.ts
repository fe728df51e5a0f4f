import { describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { layout } from '../../shared/vault/layout.js';
import { claimMailbox, withMailboxLease } from '../../shared/vault/mailboxOwner.js';
import { VaultStore } from '../../shared/vault/vaultStore.js';
import { azuriteConnectionString, freshVault } from '../support/vault.js';

/** One writer per mailbox, across instances (two VaultStores stand for two app instances), and after a crash. */

const KEY = 'a'.repeat(32);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the mailbox lease', () => {
  it('lets one holder at a time in, whichever instance asks', async () => {
    const { vault, containerName } = await freshVault('owner');
    const other = new VaultStore(BlobServiceClient.fromConnectionString(azuriteConnectionString()), containerName);
    // The order of entries and exits, not their times: one holder inside at a time means they alternate.
    const events: string[] = [];
    const hold = (store: VaultStore) =>
      withMailboxLease(store, KEY, async () => {
        events.push('enter');
        await sleep(300);
        events.push('exit');
      });
    await Promise.all([hold(vault), hold(other), hold(vault)]);
    expect(events).toEqual(['enter', 'exit', 'enter', 'exit', 'enter', 'exit']);
  });

  it('is free again once a crashed holder’s lease runs out, with no age guessed', async () => {
    const { vault } = await freshVault('owner');
    await withMailboxLease(vault, KEY, async () => undefined);
    // A worker that took the lease and died: nobody releases it.
    const crashed = vault.container.getBlobClient(layout.byKey.owner(KEY)).getBlobLeaseClient();
    await crashed.acquireLease(15);
    let entered = false;
    const waiter = withMailboxLease(vault, KEY, async () => {
      entered = true;
    });
    await sleep(1_000);
    // The crashed holder's lease is still its own (a renewal succeeds), so nobody else can be inside.
    await crashed.renewLease();
    expect(entered).toBe(false);
    await waiter;
    expect(entered).toBe(true);
  }, 30_000);
});

describe('a backup run’s claim', () => {
  it('is granted to one run; another is refused and told which; it ends with the run’s mailbox result', async () => {
    const { vault } = await freshVault('owner');
    const now = new Date('2026-11-23T02:00:00Z');
    expect(await claimMailbox(vault, KEY, 'backup-20261123T020000Z', now)).toEqual({ granted: true });
    expect(await claimMailbox(vault, KEY, 'backup-20261123T020000Z', now)).toEqual({ granted: true });
    expect(await claimMailbox(vault, KEY, 'backup-20261123T091500Z-1a2b3c4d', now)).toEqual({
      granted: false,
      runningRun: 'backup-20261123T020000Z',
    });
    // The holder recorded its result (and crashed before giving the claim up): the claim is stale.
    await vault.writeJson(layout.byKey.runMailboxResult('backup-20261123T020000Z', KEY), { status: 'Failed' });
    expect(await claimMailbox(vault, KEY, 'backup-20261123T091500Z-1a2b3c4d', now)).toEqual({ granted: true });
  });
});
