import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

/** An API call that Graph fails (here, settings/exchange without a mailbox id) is a 502 that says so, not a 500. */
let stack: Stack;
const kim = 'kim@contoso.example';

beforeAll(async () => {
  stack = await startStack({ mailboxes: [{ upn: kim, items: 3 }] });
  stack.sim.answerExchangeSettings(kim, 'withoutId');
});
afterAll(() => stack.close());

describe('Graph failing an API call', () => {
  it.each([
    ['POST', '/api/restores', { sourceMailbox: kim }],
    ['GET', `/api/snapshots?mailbox=${kim}`, undefined],
    ['POST', '/api/maintenance', { verify: {}, mailboxes: [kim] }],
  ] as const)('%s %s answers 502 naming what Graph did', async (method, path, body) => {
    const answer = await stack.api(method, path, body);
    expect(answer.status).toBe(502);
    expect(answer.body.error.title).toBe('Microsoft Graph did not answer as needed');
    expect(answer.body.error.errors[0]).toMatch(new RegExp(`${kim}.*without a primaryMailboxId`));
  });
});
