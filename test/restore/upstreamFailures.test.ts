import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

/** An API call that Graph fails (here, settings/exchange without a mailbox id) is a 502 that says so, not a 500. */
let stack: Stack;
const kim = 'kim@contoso.example';
const lou = 'lou@contoso.example';

beforeAll(async () => {
  stack = await startStack({ mailboxes: [kim, lou].map((upn) => ({ upn, items: 3 })) });
  stack.sim.answerExchangeSettings(kim, 'withoutId');
  stack.sim.answerExchangeSettings(lou, 'accessDenied');
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

  it('answers 502 when Graph refuses a user’s mailbox settings', async () => {
    const answer = await stack.api('GET', `/api/snapshots?mailbox=${lou}`);
    expect(answer.status).toBe(502);
    expect(answer.body.error.errors[0]).toMatch(/403 ErrorAccessDenied/);
  });
});
