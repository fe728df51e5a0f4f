import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import { resetServices } from '../../shared/services.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * A whole backup through the local host with a token that lacks a permission: the mailbox fails at once, the
 * report names the permission, and Graph is not asked again (neither by the client's retries nor the activity's).
 */

let stack: Stack;
const upn = 'ana@contoso.example';

beforeAll(async () => {
  stack = await startStack({ mailboxes: [{ upn, items: 8 }] });
});
afterAll(() => stack.close());

/** The app's Graph token from now on: one carrying only these roles, as a partly consented app would get. */
function grantOnly(roles: string[]): void {
  process.env.MAILBOX_VAULT_GRAPH_STATIC_TOKEN = stack.sim.issueToken({ roles }).token;
  resetServices();
}

function requestsTo(mailbox: string): number {
  const counters = stack.sim.throttle.countersFor(stack.sim.tenant.mailbox(mailbox).id);
  return Object.values(counters.requests).reduce((sum, n) => sum + n, 0);
}

describe('a backup by an app without MailboxFolder.Read.All', () => {
  it('fails the mailbox after one request, with a report that names the missing permission', async () => {
    grantOnly(['User.Read.All', 'MailboxItem.Read.All', 'MailboxItem.Export.All']);
    const before = requestsTo(upn);
    const report = (await runBackup(stack)).status.report as RunReport;
    expect(report.status).toBe('Failed');
    expect(requestsTo(upn) - before).toBe(1);
    expect(report.mailboxes).toMatchObject([{ upn, status: 'Failed', snapshotId: null }]);
    expect(report.mailboxes[0]!.error).toMatch(
      /\(folderDelta\): the app lacks the MailboxFolder\.Read\.All application permission \(its token carries User\.Read\.All, MailboxItem\.Read\.All, MailboxItem\.Export\.All\); grant it with admin consent/,
    );
  });
});

describe('a backup by an app without MailboxItem.Export.All', () => {
  it('asks exportItems once, then fails the mailbox naming the missing permission, with no snapshot of failures', async () => {
    grantOnly(['User.Read.All', 'MailboxFolder.Read.All', 'MailboxItem.Read.All']);
    const mailboxId = stack.sim.tenant.mailbox(upn).id;
    const counters = stack.sim.throttle.countersFor(mailboxId).requests;
    const exportsBefore = counters.exportItems ?? 0;
    const snapshotsBefore = (await stack.api('GET', `/api/snapshots?mailbox=${encodeURIComponent(upn)}`)).body;
    const report = (await runBackup(stack)).status.report as RunReport;
    expect((counters.exportItems ?? 0) - exportsBefore).toBe(1);
    const [mailbox] = report.mailboxes;
    expect(report.status).toBe('Failed');
    expect(mailbox).toMatchObject({ status: 'Failed', snapshotId: null });
    expect(mailbox!.error).toMatch(/the app lacks the MailboxItem\.Export\.All application permission/);
    expect((await stack.api('GET', `/api/snapshots?mailbox=${encodeURIComponent(upn)}`)).body).toEqual(snapshotsBefore);
  });
});
