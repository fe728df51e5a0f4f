import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * A user of the backup scope without a mailbox has no snapshot: the mailbox list shows them with the warning a
 * backup of the whole scope gave, not as stale, also after a later backup by hand of another mailbox.
 */

const PRINTER = 'printer@contoso.example';
const ADELE = 'adele@contoso.example';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ mailboxes: [{ upn: ADELE, items: 3 }], usersWithoutMailbox: [PRINTER] });
});
afterAll(() => stack.close());

async function printerLine() {
  const listed = (await stack.api('GET', '/api/mailboxes')).body.mailboxes as Array<{ upn: string }>;
  return listed.find((m) => m.upn === PRINTER);
}

describe('a scope user without a mailbox in the mailbox list', () => {
  it('carries the whole-scope backup’s warning, also after a backup by hand of one mailbox', async () => {
    await stack.app.host.invokeTimer('scheduledBackup');
    const scheduled = stack.app.host
      .listInstances()
      .find((i) => i.name === 'backupTenant' && /^backup-\d{8}T\d{6}Z$/.test(i.instanceId))!;
    await stack.app.host.waitForCompletion(scheduled.instanceId);
    const expected = {
      snapshots: 0,
      last: null,
      stale: false,
      note: expect.stringContaining('has no Exchange Online mailbox'),
    };
    expect(await printerLine()).toMatchObject(expected);

    await runBackup(stack, { mailboxes: [ADELE] });
    expect(await printerLine()).toMatchObject(expected);
  });
});
