import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveMailboxes } from '../../shared/backup/scope.js';
import type { RunReport } from '../../shared/backup/types.js';
import { clientFor } from '../support/graph.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * A whole backup through the local host when Graph refuses parts of the tenant: settings/exchange failing for
 * single users (403, 400, a 200 without an id, a `value` wrapper), and a mailbox outside the app's RBAC scope.
 * Each refusal is named where an admin reads it; everything else is backed up.
 */

let stack: Stack;
const ana = 'ana@contoso.example'; // plain
const ben = 'ben@contoso.example'; // settings/exchange 403
const cy = 'cy@contoso.example'; // settings/exchange 200 without an id
const dee = 'dee@contoso.example'; // settings/exchange inside value[]
const eve = 'eve@contoso.example'; // mailbox outside the RBAC scope
const fay = 'fay@contoso.example'; // settings/exchange 400

beforeAll(async () => {
  stack = await startStack({
    mailboxes: [ana, ben, cy, dee, eve, fay].map((upn) => ({ upn, items: 25 })),
  });
  const { sim } = stack;
  sim.answerExchangeSettings(ben, 'accessDenied');
  sim.answerExchangeSettings(cy, 'withoutId');
  sim.answerExchangeSettings(dee, 'valueWrapper');
  sim.answerExchangeSettings(fay, 'badRequest');
  sim.denyMailbox(eve);
});
afterAll(() => stack.close());

/** Every request the mailbox received, refused ones included. */
function requestsTo(upn: string): number {
  const counters = stack.sim.throttle.countersFor(stack.sim.tenant.mailbox(upn).id);
  return Object.values(counters.requests).reduce((sum, n) => sum + n, 0);
}

describe('scope resolution', () => {
  it('warns about each user whose settings Graph refuses and resolves the others', async () => {
    const { client } = clientFor(stack.sim);
    const resolved = await resolveMailboxes(client, { users: [ana, ben, cy, dee, fay] });
    expect(resolved.mailboxes.map((m) => m.upn)).toEqual([ana, dee]);
    expect(resolved.warnings).toEqual([
      `${ben} was skipped: its mailbox settings could not be read (getMailboxSettings failed with 403 ErrorAccessDenied: Access is denied. Check credentials and try again. (The app's token carries User.Read.All.))`,
      `${cy} was skipped: its mailbox settings could not be read (Graph answered settings/exchange for '${cy}' without a primaryMailboxId)`,
      `${fay} was skipped: its mailbox settings could not be read (getMailboxSettings failed with 400 BadRequest: The request is not supported for this user.)`,
    ]);
  });
});

describe('a backup with refusals', () => {
  it('backs up the others, warns about the refused users, and fails the refused mailbox after one request', async () => {
    const { status } = await runBackup(stack);
    const report = status.report as RunReport;
    expect(report.status).toBe('CompletedWithErrors');
    expect(report.warnings).toEqual([
      expect.stringMatching(new RegExp(`^${ben} was skipped: .*403 ErrorAccessDenied`)),
      expect.stringMatching(new RegExp(`^${cy} was skipped: .*without a primaryMailboxId`)),
      expect.stringMatching(new RegExp(`^${fay} was skipped: .*400 BadRequest`)),
    ]);
    const byUpn = new Map(report.mailboxes.map((m) => [m.upn, m]));
    expect([...byUpn.keys()].sort()).toEqual([ana, dee, eve]);
    for (const upn of [ana, dee]) {
      expect(byUpn.get(upn)).toMatchObject({ status: 'Completed', items: { exported: 25, failed: 0 } });
    }
    // Refused for good: not asked again by the client's retries nor by the activity's.
    expect(requestsTo(eve)).toBe(1);
    const eveId = stack.sim.tenant.mailbox(eve).id;
    expect(byUpn.get(eve)).toMatchObject({ status: 'Failed', snapshotId: null });
    expect(byUpn.get(eve)!.error).toBe(
      `Access denied to mailbox ${eveId} (folderDelta): the app lacks the MailboxFolder.Read.All permission ` +
        'or the mailbox is outside its RBAC scope (403 ErrorAccessDenied)',
    );
    for (const upn of [ben, cy, fay]) expect(requestsTo(upn)).toBe(0);
  });
});

describe('a backup of refused users only', () => {
  it('is not Completed when a user in scope was refused, and Failed when every one was', async () => {
    const some = (await runBackup(stack, { mailboxes: [ana, ben] })).status.report as RunReport;
    expect(some.status).toBe('CompletedWithErrors');
    expect(some.mailboxes.map((m) => m.upn)).toEqual([ana]);
    const all = (await runBackup(stack, { mailboxes: [ben, fay] })).status.report as RunReport;
    expect(all.status).toBe('Failed');
    expect(all.mailboxes).toEqual([]);
    expect(all.warnings).toHaveLength(2);
  });
});
