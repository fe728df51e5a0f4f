import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeDeletions, MASS_DELETION } from '../../shared/massDeletion.js';
import { backupRunEvents, parseTelemetry, TELEMETRY_EVENTS, type TelemetryEvent } from '../../shared/telemetry.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * The telemetry each alert rule reads (infra/alerts/, checked field by field in test/infra/alerts.test.ts), as the
 * app emits it through the Functions log when real runs go wrong: a failed run, a missed run, a mass deletion.
 * The lines are the ones the app's `context.log` produced in the local host.
 */

let stack: Stack;
const lines: string[] = [];
const ann = 'ann@contoso.example';
const bo = 'bo@contoso.example';
const cy = 'cy@contoso.example';

/** The events logged since a point in `lines`. */
const since = (from: number, name?: string): TelemetryEvent[] =>
  parseTelemetry(lines.slice(from)).filter((e) => !name || e.name === name);

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: ann, items: 110 },
        { upn: bo, items: 12 },
        { upn: cy, items: 8 },
      ],
    },
    { log: (_level, _fn, ...args) => lines.push(args.map(String).join(' ')) },
  );
});
afterAll(() => stack.close());

describe('telemetry for the alerts', () => {
  it('a failed run: the run is Failed, and each mailbox is named without a snapshot, with the reason', async () => {
    stack.sim.denyMailbox(cy);
    const from = lines.length;
    const { id } = await runBackup(stack, { mailboxes: [cy] });
    stack.sim.denyMailbox(cy, null);
    expect(since(from, TELEMETRY_EVENTS.backupRunFinished)).toEqual([
      expect.objectContaining({ runId: id, trigger: 'http', status: 'Failed', mailboxes: 1, failedMailboxes: 1 }),
    ]);
    expect(since(from, TELEMETRY_EVENTS.mailboxBackupFinished)).toEqual([
      expect.objectContaining({
        runId: id,
        upn: cy,
        status: 'Failed',
        snapshotId: null,
        error: expect.stringMatching(/Access denied/),
      }),
    ]);
  });

  it('a missed run: a scheduled run that finishes is counted; one that never finishes leaves nothing to count', async () => {
    const from = lines.length;
    await stack.app.host.invokeTimer('scheduledBackup');
    const scheduled = stack.app.host
      .listInstances()
      .find((i) => i.name === 'backupTenant' && /T\d{6}Z$/.test(i.instanceId))!;
    await stack.app.host.waitForCompletion(scheduled.instanceId);
    expect(since(from, TELEMETRY_EVENTS.backupRunFinished)).toEqual([
      expect.objectContaining({ runId: scheduled.instanceId, trigger: 'timer', status: 'Completed', mailboxes: 3 }),
    ]);
    expect(
      since(from, TELEMETRY_EVENTS.mailboxBackupFinished)
        .map((e) => e.upn)
        .sort(),
    ).toEqual([ann, bo, cy]);

    // The run dies before its report (the app down, a host that keeps failing): the missed-run rule sees no run.
    const stuck = lines.length;
    // As many times as the activity is tried (functions/durable.ts: three attempts).
    stack.app.host.injectActivityFault({ activity: 'writeRunReport', when: 'before', times: 3 });
    const started = await stack.api('POST', '/api/backups', { mailboxes: [bo] });
    expect((await stack.app.host.waitForCompletion(started.body.id)).runtimeStatus).toBe('Failed');
    // Only the audit record of the accepted call: no run event, no mailbox event.
    expect(since(stuck).map((event) => event.name)).toEqual(['AuditRecord']);
  });

  it("a mass deletion: flagged on the night deletions jump far above the mailbox's usual rate, not on usual nights", async () => {
    const mailbox = stack.sim.tenant.mailbox(ann);
    const remove = (n: number) => {
      for (const item of [...mailbox.items.values()].slice(0, n)) stack.sim.tenant.deleteItem(mailbox, item.id);
    };
    const night = async () => {
      const from = lines.length;
      await runBackup(stack, { mailboxes: [ann] });
      return since(from);
    };
    // Usual nights: a couple of deletions each (the scheduled run above was this mailbox's first).
    for (const n of [2, 1, 2]) {
      remove(n);
      const events = await night();
      expect(events.find((e) => e.upn === ann)).toMatchObject({ removed: n, massDeletion: false });
    }
    remove(90);
    const events = await night();
    const flagged = events.find((e) => e.name === TELEMETRY_EVENTS.mailboxBackupFinished)!;
    expect(flagged).toMatchObject({ upn: ann, removed: 90, massDeletion: true, snapshotId: expect.any(String) });
    expect(flagged.usualRemoved).toBeGreaterThan(0);
    expect(flagged.usualRemoved).toBeLessThan(3);
    expect(events.find((e) => e.name === TELEMETRY_EVENTS.backupRunFinished)).toMatchObject({ massDeletions: 1 });

    // The next usual night is judged against the usual rate, not the bad night.
    remove(2);
    expect((await night()).find((e) => e.upn === ann)).toMatchObject({ removed: 2, massDeletion: false });
  });
});

describe('the mass-deletion rule', () => {
  const history = (usualRemoved: number) => ({
    runs: 10,
    usualRemoved,
    lastRunId: 'x',
    lastCheck: { removed: 0, usualRemoved: null, massDeletion: false },
  });

  it('needs both many items and many times the usual count', () => {
    expect(judgeDeletions(MASS_DELETION.MIN_REMOVED - 1, 100_000, history(0)).massDeletion).toBe(false);
    expect(judgeDeletions(MASS_DELETION.MIN_REMOVED, 100_000, history(1)).massDeletion).toBe(true);
    expect(judgeDeletions(400, 100_000, history(50)).massDeletion).toBe(false);
    expect(judgeDeletions(500, 100_000, history(50)).massDeletion).toBe(true);
  });

  it('without enough history, a share of the mailbox stands in', () => {
    expect(judgeDeletions(100, 1000, undefined)).toEqual({ removed: 100, usualRemoved: null, massDeletion: false });
    expect(judgeDeletions(200, 1000, undefined).massDeletion).toBe(true);
    expect(judgeDeletions(200, 1000, { ...history(150), runs: 2 }).massDeletion).toBe(true);
  });
});

describe('a mailbox skipped because another run held it', () => {
  it('names that run in its event, so the alert on mailboxes without a snapshot can tell', () => {
    const skipped = {
      upn: ann,
      mailboxId: 'MBX:ann',
      status: 'CompletedWithErrors' as const,
      snapshotId: null,
      startedAt: '2026-12-02T01:00:00Z',
      finishedAt: '2026-12-02T01:00:01Z',
      durationInMs: 1000,
      items: { inSnapshot: 0, exported: 0, alreadyStored: 0, failed: 0, removed: 0, changed: 0 },
      bytesExported: 0,
      throttling: { responses: 0, waitInMs: 0 },
      failedFolders: [],
      failures: [],
      skippedFor: 'backup-20261202T010000Z-other',
    };
    const report = {
      runId: 'backup-20261202T010500Z-http',
      kind: 'backup' as const,
      trigger: 'http' as const,
      startedAt: skipped.startedAt,
      finishedAt: skipped.finishedAt,
      status: 'CompletedWithErrors' as const,
      mailboxes: [skipped],
      warnings: [],
      totals: {
        mailboxes: 1,
        failedMailboxes: 0,
        itemsExported: 0,
        itemsFailed: 0,
        bytesExported: 0,
        throttledResponses: 0,
        throttleWaitInMs: 0,
      },
    };
    const [event] = backupRunEvents(report, new Map());
    expect(event).toMatchObject({ snapshotId: null, skippedFor: 'backup-20261202T010000Z-other' });
  });
});
