import { afterAll, describe, expect, it } from 'vitest';
import { registrations } from '../../local/host/registry.js';
import type { RunReport } from '../../shared/backup/types.js';
import { keyOf } from '../../shared/vault/layout.js';
import { verifyWholeVault } from '../support/integrity.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

let stack: Stack | undefined;
afterAll(() => stack?.close());

const UPN = 'slices@contoso.example';

/** Counts the calls of one activity (wrapping its registration, as the crash tests do). */
function countCalls(activity: string): { calls: number } {
  const counted = { calls: 0 };
  for (const registration of registrations.values()) {
    if (registration.triggerType !== 'activityTrigger' || registration.name !== activity) continue;
    const original = registration.callback as (...args: unknown[]) => Promise<unknown>;
    registration.callback = (...args: unknown[]) => {
      counted.calls++;
      return original(...args);
    };
  }
  return counted;
}

describe('a commit of more slices than one orchestration episode runs', () => {
  it('goes on in the next episode, and commits what one activity would', async () => {
    stack = await startStack(
      { mailboxes: [{ upn: UPN, items: 80 }] },
      // A slice of one record: 80 items take more than the 50 slices an episode runs.
      { settings: { MAILBOX_VAULT_COMMIT_SLICE_RECORDS: '1' } },
    );
    const slices = countCalls('commitSnapshotSlice');
    const { id, status } = await runBackup(stack);
    const report = status.report as RunReport;
    expect(report.status).toBe('Completed');
    expect(report.mailboxes[0]!.items).toMatchObject({ inSnapshot: 80, exported: 80, failed: 0 });
    expect(slices.calls).toBeGreaterThan(80);
    const mailboxId = stack.sim.tenant.mailbox(UPN).id;
    const history = stack.app.host.historyStats(`${id}-${keyOf(mailboxId)}`)!;
    expect(history.generations).toBeGreaterThanOrEqual(2);
    // An episode: planning and the export windows, then at most 50 slices of a few events each.
    expect(history.maxHistoryLength).toBeLessThan(300);

    // The next night, in slices too, carries the 80 items over with its changes.
    const { tenant } = stack.sim;
    const source = tenant.mailbox(UPN);
    tenant.deleteItem(source, [...source.items.keys()][0]!);
    const night = (await runBackup(stack)).status.report as RunReport;
    expect(night.status).toBe('Completed');
    expect(night.mailboxes[0]!.items).toMatchObject({ inSnapshot: 79, removed: 1 });
    expect(await verifyWholeVault(stack)).toEqual([]);
  }, 600_000);
});
