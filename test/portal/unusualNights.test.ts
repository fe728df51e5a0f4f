import { describe, expect, it } from 'vitest';
import type { MailboxRunResult, RunReport } from '../../shared/backup/types.js';
import { unusualNights } from '../../shared/portal/unusualNights.js';

/** A night's run of one mailbox with so many items removed and changed. */
function night(day: number, removed: number, changed: number, inSnapshot = 1000): RunReport {
  const startedAt = `2026-11-${String(day).padStart(2, '0')}T02:00:00Z`;
  const mailbox = {
    upn: 'adele@contoso.example',
    mailboxId: 'mbx-adele',
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
});
