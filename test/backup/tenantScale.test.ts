import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupTenantInput } from '../../functions/contracts.js';
import type { MailboxRunResult, RunReport } from '../../shared/backup/types.js';
import { layout } from '../../shared/vault/layout.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * A tenant run's Durable footprint does not grow with its mailboxes: history events per mailbox, the longest
 * history of any orchestration, the custom status and the report summary stay the same as the run grows from
 * 6 to 18 mailboxes (lanes, report pages and lane episodes scaled down so the small runs cross their bounds).
 */
let stack: Stack;
const upns = Array.from({ length: 18 }, (_, i) => `user${String(i).padStart(2, '0')}@contoso.example`);
const settings = { waveSize: 2, exportConcurrency: 2, windowsPerEpisode: 10, pageSize: 4, mailboxesPerLaneEpisode: 2 };

interface Footprint {
  mailboxes: number;
  historyEventsPerMailbox: number;
  longestHistory: { backupTenant: number; backupLane: number; backupMailbox: number };
  statusBytes: number;
  reportBytes: number;
  report: RunReport;
  runId: string;
}

/**
 * The longest history a tenant run may reach whatever its mailboxes: ten events of its own (start, scope, report),
 * and at most four per lane (created, completed, the episode that saw it) and per report page (scheduled,
 * completed, its episode).
 */
function tenantHistoryCeiling(lanes: number, reportPages: number): number {
  return 10 + 4 * lanes + 4 * reportPages;
}

async function runTenant(mailboxes: string[], stamp: string): Promise<Footprint> {
  const runId = `backup-${stamp}-0000000${mailboxes.length % 10}`;
  const input: BackupTenantInput = {
    runId,
    trigger: 'http',
    startedAt: `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:00.000Z`,
    mailboxes,
    settings,
  };
  const host = stack.app.host;
  host.startNew('backupTenant', { instanceId: runId, input });
  const done = await host.waitForCompletion(runId);
  expect(done.runtimeStatus).toBe('Completed');
  const mine = host.listInstances().filter((i) => i.instanceId.startsWith(runId));
  let events = 0;
  const longestHistory = { backupTenant: 0, backupLane: 0, backupMailbox: 0 };
  let statusBytes = 0;
  for (const instance of mine) {
    const stats = host.historyStats(instance.instanceId)!;
    events += stats.totalEvents;
    const name = instance.name as keyof typeof longestHistory;
    longestHistory[name] = Math.max(longestHistory[name], stats.maxHistoryLength);
    if (name !== 'backupMailbox') statusBytes = Math.max(statusBytes, JSON.stringify(instance.customStatus).length);
  }
  const report = (await stack.vault.readJson<RunReport>(layout.runReport(runId)))!;
  return {
    mailboxes: mailboxes.length,
    historyEventsPerMailbox: events / mailboxes.length,
    longestHistory,
    statusBytes,
    reportBytes: JSON.stringify(report).length,
    report,
    runId,
  };
}

beforeAll(async () => {
  stack = await startStack({ mailboxes: upns.map((upn) => ({ upn, items: 2 })) });
});
afterAll(() => stack.close());

describe('a tenant run as it grows', () => {
  it('keeps history per mailbox, the longest history, custom status and report summary the same', async () => {
    const small = await runTenant(upns.slice(0, 6), '20261201T010000Z');
    const large = await runTenant(upns, '20261201T020000Z');
    for (const run of [small, large]) {
      expect(run.report.status).toBe('Completed');
      expect(run.report.totals.mailboxes).toBe(run.mailboxes);
      expect(run.report.pages).toEqual({ count: Math.ceil(run.mailboxes / 4), pageSize: 4, notCompleted: 0 });
      // Every mailbox completed, so the summary lists none: its results are in the pages.
      expect(run.report.mailboxes).toEqual([]);
    }
    // Per mailbox: its own orchestration, its lane's share, the tenant's share (a few events per report page).
    expect(large.historyEventsPerMailbox).toBeLessThanOrEqual(small.historyEventsPerMailbox * 1.05);
    expect(large.longestHistory.backupLane).toBe(small.longestHistory.backupLane);
    expect(large.longestHistory.backupMailbox).toBe(small.longestHistory.backupMailbox);
    // The tenant's own history: a few events per lane and per report page of `pageSize` mailboxes (500 by default),
    // none per mailbox. Checked against the worst case (every event in an episode of its own), not against the
    // small run: on a loaded machine events batch into fewer episodes, so the small run can come out shorter.
    for (const run of [small, large]) {
      expect(run.longestHistory.backupTenant).toBeLessThanOrEqual(
        tenantHistoryCeiling(settings.waveSize, run.report.pages!.count),
      );
    }
    expect(large.statusBytes).toBeLessThanOrEqual(small.statusBytes + 2);
    expect(large.statusBytes).toBeLessThan(200);
    expect(large.reportBytes).toBeLessThanOrEqual(small.reportBytes + 10);
  });

  it('serves every mailbox of a paged report through GET /api/backups/{id}/mailboxes?page=N', async () => {
    const runId = 'backup-20261201T020000Z-00000008';
    const { body: run } = await stack.api('GET', `/api/backups/${runId}`);
    expect(run.report.pages.count).toBe(5);
    const seen: string[] = [];
    for (let page = 0; page < 5; page++) {
      const { status, body } = await stack.api('GET', `/api/backups/${runId}/mailboxes?page=${page}`);
      expect(status).toBe(200);
      expect(body).toMatchObject({ id: runId, page, pages: 5 });
      seen.push(...(body.mailboxes as MailboxRunResult[]).map((m) => m.upn));
    }
    // In scope order, each mailbox once.
    expect(seen).toEqual(upns);
    expect((await stack.api('GET', `/api/backups/${runId}/mailboxes?page=5`)).status).toBe(404);
  });
});
