import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import { collect } from '../support/graph.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * A run that reaches a mailbox after a run started later has backed it up: a nightly run whose timer fired
 * late (its snapshot stands for the scheduled time) meets a mailbox an admin backed up by hand meanwhile. The
 * mailbox's newest snapshot is the later run's; this run skips it, naming that run and snapshot, rather than
 * exporting it and then failing to commit behind the newer snapshot.
 */

const BACKED_UP_BY_HAND = 'adele@contoso.example';
const NOT_YET = 'alex@contoso.example';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    mailboxes: [
      { upn: BACKED_UP_BY_HAND, items: 6 },
      { upn: NOT_YET, items: 4 },
    ],
  });
});
afterAll(() => stack.close());

describe('a scheduled run behind a newer snapshot', () => {
  it('skips the mailbox a later run backed up, naming that run and snapshot, and backs up the others', async () => {
    const byHand = await runBackup(stack, { mailboxes: [BACKED_UP_BY_HAND] });
    const newer = (byHand.status.report as RunReport).mailboxes[0]!.snapshotId!;

    await stack.app.host.invokeTimer('scheduledBackup');
    const scheduled = stack.app.host
      .listInstances()
      .find((i) => i.name === 'backupTenant' && /^backup-\d{8}T\d{6}Z$/.test(i.instanceId))!;
    expect(scheduled.instanceId < byHand.id).toBe(true); // the occurrence it stands for came before
    const { output } = await stack.app.host.waitForCompletion(scheduled.instanceId);
    const report = (await stack.vault.readJson<RunReport>(layout.runReport(scheduled.instanceId)))!;

    const byUpn = new Map(report.mailboxes.map((m) => [m.upn, m]));
    expect(byUpn.get(BACKED_UP_BY_HAND)).toMatchObject({
      status: 'CompletedWithErrors',
      snapshotId: null,
      skippedFor: byHand.id,
      error: expect.stringContaining(`has backed this mailbox up since (snapshot ${newer})`),
    });
    expect(byUpn.get(NOT_YET)).toMatchObject({ status: 'Completed', snapshotId: expect.any(String) });
    expect(output).toMatchObject({ status: 'CompletedWithErrors' });

    // Nothing was exported for the skipped mailbox, and its newest snapshot is still the one taken by hand.
    const mailboxId = stack.sim.tenant.mailbox(BACKED_UP_BY_HAND).id;
    const batchResults = layout.byKey.runBatchResultsPrefix(scheduled.instanceId, keyOf(mailboxId));
    expect(await collect(stack.vault.listNames(batchResults))).toEqual([]);
    const listed = (await stack.api('GET', '/api/mailboxes')).body.mailboxes as Array<{
      upn: string;
      snapshots: number;
      last: { snapshotId: string };
    }>;
    expect(listed.find((m) => m.upn === BACKED_UP_BY_HAND)).toMatchObject({
      snapshots: 1,
      last: { snapshotId: newer },
    });
  });
});
