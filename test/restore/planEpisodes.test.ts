import { afterAll, describe, expect, it } from 'vitest';
import type { RestoreReport } from '../../shared/restore/types.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

let stack: Stack | undefined;
afterAll(() => stack?.close());

const SOURCE = 'plan-episodes@contoso.example';
const TARGET = 'plan-episodes-target@contoso.example';

describe('a restore plan of more slices than one orchestration episode runs', () => {
  it('goes on in the next episode and restores every item once', async () => {
    stack = await startStack(
      {
        mailboxes: [
          { upn: SOURCE, items: 60 },
          { upn: TARGET, items: 4 },
        ],
      },
      // A slice of one item: the target's keys and 60 source items take more than the 50 slices an episode runs.
      { settings: { MAILBOX_VAULT_RESTORE_PLAN_SLICE_ITEMS: '1' } },
    );
    expect((await runBackup(stack)).status.status).toBe('Completed');
    const { id, status } = await runRestore(stack, { sourceMailbox: SOURCE, targetMailbox: TARGET });
    const report = status.report as RestoreReport;
    expect(status.status).toBe('Completed');
    expect(report.counts).toMatchObject({ selected: 60, imported: 60, failed: 0, skippedAlreadyPresent: 0 });
    const history = stack.app.host.historyStats(id)!;
    expect(history.generations).toBeGreaterThanOrEqual(2);
    expect(history.maxHistoryLength).toBeLessThan(300);

    const { tenant } = stack.sim;
    const target = tenant.mailbox(TARGET);
    expect(target.items.size).toBe(64);
    const restoredKeys = [...target.items.values()]
      .filter((item) => target.folderPath(item.folderId).startsWith(report.destination.root))
      .map((item) => item.spec.searchKey.toString('base64'));
    const sourceKeys = [...tenant.mailbox(SOURCE).items.values()].map((item) => item.spec.searchKey.toString('base64'));
    expect(restoredKeys.sort()).toEqual(sourceKeys.sort());

    // Again with skip: planned in slices against the target's keys, nothing is imported twice.
    const again = (await runRestore(stack, { sourceMailbox: SOURCE, targetMailbox: TARGET })).status.report;
    expect((again as RestoreReport).counts).toMatchObject({ imported: 0, skippedAlreadyPresent: 60 });
    expect(target.items.size).toBe(64);
  }, 600_000);
});
