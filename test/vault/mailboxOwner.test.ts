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
    const spans: Array<[number, number]> = [];
    const hold = (store: VaultStore) =>
      withMailboxLease(store, KEY, async () => {
        const start = performance.now();
        await sleep(300);
        spans.push([start, performance.now()]);
      });
    await Promise.all([hold(vault), hold(other), hold(vault)]);
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it('is free again once a crashed holder’s lease runs out, with no age guessed', async () => {
    const { vault } = await freshVault('owner');
    await withMailboxLease(vault, KEY, async () => undefined);
    // A worker that took the lease and died: nobody releases it.
    await vault.container.getBlobClient(layout.byKey.owner(KEY)).getBlobLeaseClient().acquireLease(15);
    const start = Date.now();
    await withMailboxLease(vault, KEY, async () => undefined);
    expect(Date.now() - start).toBeGreaterThan(10_000);
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
