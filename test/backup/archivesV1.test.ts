import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * With v1.0 configured (the default), Graph answers as it does there: settings/exchange names no archive, so a
 * user's archive is not backed up, and the run report says so and why, instead of leaving it out in silence.
 */

const UPN = 'ines@contoso.example';
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    mailboxes: [{ upn: UPN, items: 5, sizes: [2_000, 8_000], archive: { items: 3, auxiliaryChain: [2, 2] } }],
  });
});
afterAll(() => stack.close());

describe('a backup on v1.0 of a user with an archive', () => {
  it('backs up the primary mailbox only, and the report says why archives were not backed up', async () => {
    const { status } = await runBackup(stack);
    const report = status.report as RunReport;
    const owner = stack.sim.tenant.mailbox(UPN);
    expect(report.status).toBe('Completed');
    expect(report.mailboxes.map((m) => m.mailboxId)).toEqual([owner.id]);
    expect(report.archives?.included).toBe(0);
    expect(report.archives?.reason).toMatch(/not backed up: MAILBOX_VAULT_GRAPH_API_VERSION is 'v1.0'.*beta only/);
    // Nothing asked the archive anything: v1.0 never named it.
    expect(stack.sim.throttle.counters.has(owner.archiveMailboxId!)).toBe(false);
    const listed = await stack.api('GET', `/api/snapshots?mailbox=${UPN}`);
    expect(listed.body.archive).toBeNull();
  });
});
