import { describe, expect, it } from 'vitest';
import type { MailboxRunResult, RunReport } from '../../shared/backup/types.js';
import { unusualNights, unusualNightsIn } from '../../shared/portal/unusualNights.js';
import { layout } from '../../shared/vault/layout.js';
import { freshVault } from '../support/vault.js';

/** A night's run of one mailbox with so many items removed and changed. */
function night(day: number, removed: number, changed: number, inSnapshot = 1000, who = 'adele'): RunReport {
  const startedAt = `2026-11-${String(day).padStart(2, '0')}T02:00:00Z`;
  const mailbox = {
    upn: `${who}@contoso.example`,
    mailboxId: `mbx-${who}`,
    status: 'Completed',
    items: { inSnapshot, exported: changed, alreadyStored: 0, failed: 0, removed, changed },
  } as MailboxRunResult;
  return { runId: `backup-${day}`, startedAt, mailboxes: [mailbox] } as RunReport;
}

describe('unusual nights on the dashboard', () => {
  it('does not flag a first backup, in which every item is new', () => {
    expect(unusualNights([night(1, 0, 1000), night(2, 3, 10)])).toEqual([]);
  });

  it("flags a night whose deletions or changes jump far above the mailbox's usual rate, and keeps flagging", () => {
    const usual = [night(1, 0, 1000), ...[2, 3, 4, 5, 6].map((d) => night(d, 4, 12))];
    const flagged = unusualNights([...usual, night(7, 400, 10), night(8, 5, 900), night(9, 380, 8)]);
    expect(flagged.map((f) => [f.runId, f.massDeletion, f.massChange])).toEqual([
      ['backup-7', true, false],
      ['backup-8', false, true],
      ['backup-9', true, false],
    ]);
    expect(flagged[0]).toMatchObject({ removed: 400, usualRemoved: 4 });
  });

  it("reads a paged run's mailboxes from its pages: its summary lists only those that did not complete", async () => {
    const { vault } = await freshVault('unusual');
    // Two pages per run: adele on the first, bob on the second; bob's deletions jump on the seventh night.
    const paged = async (day: number, bobRemoved: number): Promise<RunReport> => {
      const pages = [night(day, 4, 12, 1000, 'adele'), night(day, bobRemoved, 12, 1000, 'bob')];
      const { runId, startedAt } = pages[0]!;
      for (const [page, { mailboxes }] of pages.entries())
        await vault.writeJson(layout.runReportPage(runId, page), {
          page,
          mailboxes,
          deletions: {},
          deletionWarnings: [],
        });
      return {
        runId,
        startedAt,
        mailboxes: [],
        pages: { count: 2, pageSize: 1, notCompleted: 0 },
      } as unknown as RunReport;
    };
    const reports = [];
    for (const [day, bobRemoved] of [
      [1, 0],
      [2, 4],
      [3, 4],
      [4, 4],
      [5, 4],
      [6, 4],
      [7, 400],
    ] as const)
      reports.push(await paged(day, bobRemoved));
    const flagged = await unusualNightsIn(vault, reports);
    expect(flagged.map((f) => [f.runId, f.upn, f.massDeletion])).toEqual([['backup-7', 'bob@contoso.example', true]]);
    // The summaries alone show nothing: every mailbox completed.
    expect(unusualNights(reports)).toEqual([]);
  });
});
