import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MaintenanceInput } from '../../functions/contracts.js';
import type { MaintenanceReport } from '../../shared/maintenance/report.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import type { MailboxOwner } from '../../shared/vault/mailboxOwner.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * vaultMaintenance continues as new every few windows of mailboxes, carrying the step and the offset: every
 * mailbox is still pruned once and verified once, none twice, none skipped.
 */

let stack: Stack;
const MAILBOXES = Array.from({ length: 10 }, (_, i) => keyOf(`mailbox-${i}`));

beforeAll(async () => {
  stack = await startStack({ mailboxes: [] });
}, 120_000);
afterAll(() => stack.close());
afterEach(() => setVaultWriteHook(undefined));

describe('a maintenance run that continues as new', () => {
  it('prunes and verifies every mailbox exactly once across its executions', async () => {
    const id = 'maintenance-20261201T053000Z-episodes';
    const input: MaintenanceInput = {
      id,
      trigger: 'http',
      startedAt: '2026-12-01T05:30:00.000Z',
      prune: { dryRun: false },
      verify: { mode: 'full' },
      mailboxKeys: MAILBOXES,
      // One window (4 mailboxes) per execution: the prune's 3 windows and the verify's 3 take 5 executions.
      windowsPerEpisode: 1,
    };
    const results = new Map<string, number>();
    let twice!: (blob: string) => void;
    // A mailbox done twice fails the test at once (a resume that loses its place may never end).
    const doneTwice = new Promise<string>((resolve) => (twice = resolve));
    setVaultWriteHook((write, phase) => {
      if (phase !== 'after' || !/^maintenance\/[^/]+\/(prune|verify)\//.test(write.blobName)) return;
      results.set(write.blobName, (results.get(write.blobName) ?? 0) + 1);
      if (results.get(write.blobName)! > 1) twice(write.blobName);
    });
    stack.app.host.startNew('vaultMaintenance', { instanceId: id, input });

    const ended = await Promise.race([
      stack.app.host.waitForCompletion(id).then((status) => status.runtimeStatus),
      doneTwice.then((blob) => `${blob} written twice`),
    ]);
    expect(ended).toBe('Completed');
    expect(stack.app.host.historyStats(id)?.generations).toBe(5);
    for (const key of MAILBOXES) {
      // Each prune bumps the mailbox's count under its lease: exactly one prune ran.
      const owner = await stack.vault.readJson<MailboxOwner>(layout.byKey.owner(key));
      expect(owner?.prunes, key).toBe(1);
      expect(results.get(layout.maintenanceResult(id, 'prune', key)), key).toBe(1);
      expect(results.get(layout.maintenanceResult(id, 'verify', key)), key).toBe(1);
    }
    expect(results.size).toBe(2 * MAILBOXES.length);
    const report = await stack.vault.readJson<MaintenanceReport>(layout.maintenanceReport(id));
    expect(report?.prune?.mailboxes.map((m) => m.mailboxKey).sort()).toEqual([...MAILBOXES].sort());
    expect(report?.verify?.mailboxes).toHaveLength(MAILBOXES.length);
  }, 180_000);
});
