import { describe, expect, it } from 'vitest';
import { listMailboxFreshness, MAILBOXES_LOOKED_UP_AT_ONCE } from '../../shared/portal/mailboxFreshness.js';
import { layout } from '../../shared/vault/layout.js';
import type { SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

const MAILBOXES = 3 * MAILBOXES_LOOKED_UP_AT_ONCE;
const NOW = new Date('2026-12-02T12:00:00Z');

async function seedMailboxes(vault: VaultStore): Promise<void> {
  const records = Array.from({ length: MAILBOXES }, (_, i) => {
    const upn = `user${String(i).padStart(3, '0')}@contoso.example`;
    const takenAt = i % 2 === 0 ? '2026-12-02T02:00:00.000Z' : '2026-11-20T02:00:00.000Z';
    return {
      mailboxId: `mbx-${i}`,
      upn,
      snapshotId: `${takenAt.slice(0, 10).replaceAll('-', '')}T020000Z-run`,
      takenAt,
    };
  });
  await Promise.all(
    records.map((r) =>
      vault.writeJson(layout.snapshotRecord(r.mailboxId, r.snapshotId), {
        ...r,
        status: 'Completed',
        itemCount: 3,
        totalBytes: 300,
      } as unknown as SnapshotRecord),
    ),
  );
}

/** Mailboxes being looked up at once: from the listing of a mailbox's snapshots to the read of its newest. */
function countLookupsInFlight(vault: VaultStore): { max: () => number } {
  let inFlight = 0;
  let max = 0;
  const listNames = vault.listNames.bind(vault);
  const readJson = vault.readJson.bind(vault);
  vault.listNames = (prefix: string) => {
    if (prefix.includes('/snapshots/')) max = Math.max(max, ++inFlight);
    return listNames(prefix);
  };
  vault.readJson = (async (name: string) => {
    try {
      return await readJson(name);
    } finally {
      if (name.includes('/snapshots/')) inFlight--;
    }
  }) as VaultStore['readJson'];
  return { max: () => max };
}

describe('the mailbox list of the portal and the dashboard', () => {
  it('looks up a bounded number of mailboxes at once, however many the vault holds, and lists every one', async () => {
    const { vault } = await freshVault('freshness');
    await seedMailboxes(vault);
    const lookups = countLookupsInFlight(vault);
    const mailboxes = await listMailboxFreshness(vault, NOW, 36 * 3_600_000);
    expect(mailboxes).toHaveLength(MAILBOXES);
    expect(mailboxes.map((m) => m.upn)).toEqual([...mailboxes.map((m) => m.upn)].sort());
    expect(mailboxes.filter((m) => m.stale)).toHaveLength(MAILBOXES / 2);
    expect(lookups.max()).toBeGreaterThan(1);
    expect(lookups.max()).toBeLessThanOrEqual(MAILBOXES_LOOKED_UP_AT_ONCE);
  });
});
