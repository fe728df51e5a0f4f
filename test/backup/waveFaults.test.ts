import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/** A transient failure of the activity that takes a lane's next mailbox (blob reads and a conditional write) is retried, as every activity's is; the retry takes the same mailbox. */
let stack: Stack;
const mailboxes = ['ana@contoso.example', 'ben@contoso.example'];

beforeAll(async () => {
  stack = await startStack({ mailboxes: mailboxes.map((upn) => ({ upn, items: 5 })) });
});
afterAll(() => stack.close());

describe('a tenant run whose next-mailbox take fails once', () => {
  it('retries the read and backs up every mailbox, with a report', async () => {
    stack.app.host.injectActivityFault({ activity: 'takeNextMailbox', when: 'after', times: 1 });
    const { status } = await runBackup(stack);
    expect(status.runtimeStatus).toBe('Completed');
    const report = status.report as RunReport;
    expect(report.status).toBe('Completed');
    expect(report.mailboxes.map((m) => m.upn).sort()).toEqual(mailboxes);
  });
});

describe('a tenant run whose lanes cannot take their next mailbox', () => {
  it('still writes its report, naming every mailbox it did not back up and why', async () => {
    // Every attempt of every lane fails, past the activity's retries.
    stack.app.host.injectActivityFault({ activity: 'takeNextMailbox', when: 'before', times: 1000 });
    const { status } = await runBackup(stack);
    expect(status.runtimeStatus).toBe('Completed');
    const report = status.report as RunReport;
    expect(report.status).toBe('Failed');
    expect(report.mailboxes.map((m) => m.upn).sort()).toEqual(mailboxes);
    for (const mailbox of report.mailboxes)
      expect(mailbox.error).toMatch(/stopped before backing up this mailbox \(taking its next mailbox failed/);
  });
});
