import { describe, expect, it } from 'vitest';
import { listMailboxFreshness, MAILBOXES_LOOKED_UP_AT_ONCE } from '../../shared/portal/mailboxFreshness.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import {
  entryOf,
  readDirectory,
  refreshAfterCommit,
  writeDirectoryEntry,
} from '../../shared/vault/mailboxDirectory.js';
import type { SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

const MAILBOXES = 3 * MAILBOXES_LOOKED_UP_AT_ONCE;
const NOW = new Date('2026-12-02T12:00:00Z');

async function seedMailboxes(vault: VaultStore): Promise<SnapshotRecord[]> {
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
  const written = records.map((r) => ({ ...r, status: 'Completed', itemCount: 3, totalBytes: 300 }) as SnapshotRecord);
  await Promise.all(written.map((r) => vault.writeJson(layout.snapshotRecord(r.mailboxId, r.snapshotId), r)));
  return written;
}

/** Mailboxes being looked up at once: from the listing of a mailbox's snapshots to the read of its newest. */
function countLookupsInFlight(vault: VaultStore): { max: () => number; total: () => number } {
  let inFlight = 0;
  let max = 0;
  let total = 0;
  const listNames = vault.listNames.bind(vault);
  const readJson = vault.readJson.bind(vault);
  vault.listNames = (prefix: string) => {
    if (prefix.includes('/snapshots/')) {
      max = Math.max(max, ++inFlight);
      total++;
    }
    return listNames(prefix);
  };
  vault.readJson = (async (name: string) => {
    try {
      return await readJson(name);
    } finally {
      if (name.includes('/snapshots/')) inFlight--;
    }
  }) as VaultStore['readJson'];
  return { max: () => max, total: () => total };
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

  it("answers from the vault's directory with no lookup per mailbox, the same list as the lookups give", async () => {
    const { vault } = await freshVault('freshness-directory');
    const records = await seedMailboxes(vault);
    const lookedUp = await listMailboxFreshness(vault, NOW, 36 * 3_600_000);
    // Half the mailboxes have an entry: only the other half is looked up.
    for (const record of records.slice(0, MAILBOXES / 2)) await refreshAfterCommit(vault, record);
    const half = countLookupsInFlight(vault);
    expect(await listMailboxFreshness(vault, NOW, 36 * 3_600_000)).toEqual(lookedUp);
    expect(half.total()).toBe(MAILBOXES / 2);
    for (const record of records.slice(MAILBOXES / 2)) await refreshAfterCommit(vault, record);
    const none = countLookupsInFlight(vault);
    expect(await listMailboxFreshness(vault, NOW, 36 * 3_600_000)).toEqual(lookedUp);
    expect(none.total()).toBe(0);
  });
});

describe("a mailbox's directory entry", () => {
  const record = (snapshotId: string, upn = "zoë.o'neil@contoso.example") =>
    ({
      mailboxId: 'mbx-late',
      upn,
      snapshotId,
      takenAt: '2026-12-02T02:00:00.000Z',
      status: 'Completed',
      itemCount: 7,
      totalBytes: 700,
    }) as SnapshotRecord;

  it('names the newest snapshot even when an older commit writes it last (a retried activity)', async () => {
    const { vault } = await freshVault('directory-late');
    const [older, newer] = [record('20261201T020000Z-aaaaaaaa'), record('20261202T020000Z-bbbbbbbb')];
    for (const r of [older, newer]) await vault.writeJson(layout.snapshotRecord(r.mailboxId, r.snapshotId), r);
    await refreshAfterCommit(vault, newer);
    await refreshAfterCommit(vault, older);
    const entry = (await readDirectory(vault)).get(keyOf('mbx-late'));
    expect(entry).toEqual({ ...entryOf([newer]), snapshots: 2 });
    expect(entry?.upn).toBe("zoë.o'neil@contoso.example"); // metadata carries only ASCII: encoded and decoded
  });

  it('is deleted when the mailbox has no snapshot left, and an unreadable one is left out', async () => {
    const { vault } = await freshVault('directory-gone');
    await writeDirectoryEntry(vault, 'k1', entryOf([record('20261202T020000Z-cccccccc')]));
    await vault.writeJson(layout.byKey.directoryEntry('k2'), {}, { metadata: { entry: '%E0%A4%A' } });
    expect([...(await readDirectory(vault)).keys()]).toEqual(['k1']);
    await writeDirectoryEntry(vault, 'k1', entryOf([]));
    expect((await readDirectory(vault)).size).toBe(0);
  });
});
