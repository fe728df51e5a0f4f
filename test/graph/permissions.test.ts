import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  GraphRequestError,
  isAccessDenial,
  MailboxAccessDeniedError,
  MailboxIdMissingError,
  MailboxNotFoundError,
  type MailboxClient,
} from '../../shared/graph/index.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, collect, startSeededSimulator } from '../support/graph.js';

/**
 * settings/exchange as Graph really answers it (a `value` wrapper, a 200 without an id, a 400/403 for one user)
 * and a mailbox the app is refused (403 ErrorAccessDenied): the simulator over HTTP, the real client.
 */

let sim: Simulator;
let client: MailboxClient;
const upn = 'alex@contoso.example';

beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn, items: 30 }] });
  ({ client } = clientFor(sim));
});
afterAll(() => sim.close());
afterEach(() => {
  sim.answerExchangeSettings(upn, undefined);
  sim.denyMailbox(upn, null);
});

/** Every request the mailbox received, refused ones included. */
function requestsTo(mailboxIdOrUpn: string): number {
  const counters = sim.throttle.countersFor(sim.tenant.mailbox(mailboxIdOrUpn).id);
  return Object.values(counters.requests).reduce((sum, n) => sum + n, 0);
}

describe('settings/exchange', () => {
  it('accepts the entity inside a value array', async () => {
    sim.answerExchangeSettings(upn, 'valueWrapper');
    const ids = await client.getMailboxIds(upn);
    expect(ids.primaryMailboxId).toBe(sim.tenant.mailbox(upn).id);
  });

  it('treats a 200 without primaryMailboxId as an error naming the user, not as "no mailbox"', async () => {
    sim.answerExchangeSettings(upn, 'withoutId');
    const failure = await client.getMailboxIds(upn).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MailboxIdMissingError);
    expect(failure).not.toBeInstanceOf(MailboxNotFoundError);
    expect((failure as Error).message).toContain(upn);
  });

  it('answers 400 and 403 for one user as final Graph errors', async () => {
    sim.answerExchangeSettings(upn, 'badRequest');
    await expect(client.getMailboxIds(upn)).rejects.toMatchObject({ status: 400, code: 'BadRequest' });
    sim.answerExchangeSettings(upn, 'accessDenied');
    await expect(client.getMailboxIds(upn)).rejects.toMatchObject({ status: 403, code: 'ErrorAccessDenied' });
  });

  it('can be scripted through the control API', async () => {
    const put = (answer?: string) =>
      fetch(`${sim.baseUrl}/_sim/users/${upn}/exchange-settings`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ answer }),
      });
    expect((await put('withoutId')).status).toBe(204);
    await expect(client.getMailboxIds(upn)).rejects.toBeInstanceOf(MailboxIdMissingError);
    expect((await put()).status).toBe(204);
    await expect(client.getMailboxIds(upn)).resolves.toMatchObject({ primaryMailboxId: sim.tenant.mailbox(upn).id });
    expect((await put('sometimes')).status).toBe(400);
  });
});

describe('a mailbox the app is refused', () => {
  it('fails with a clear MailboxAccessDenied after exactly one request', async () => {
    sim.denyMailbox(upn);
    const mailboxId = sim.tenant.mailbox(upn).id;
    const before = requestsTo(upn);
    const failure = await collect(client.listFolderChanges(mailboxId)).catch((error: unknown) => error);
    expect(requestsTo(upn) - before).toBe(1);
    expect(failure).toBeInstanceOf(MailboxAccessDeniedError);
    expect(failure).toBeInstanceOf(GraphRequestError);
    expect(failure).toMatchObject({ code: 'MailboxAccessDenied', status: 403, graphCode: 'ErrorAccessDenied' });
    expect((failure as Error).message).toBe(
      `Access denied to mailbox ${mailboxId} (folderDelta): the app lacks the MailboxFolder.Read.All permission ` +
        'or the mailbox is outside its RBAC scope (403 ErrorAccessDenied)',
    );
  });

  it('names the permission of the operation refused, here exportItems', async () => {
    const mailboxId = sim.tenant.mailbox(upn).id;
    const itemIds = [...sim.tenant.mailbox(upn).items.keys()].slice(0, 3);
    const control = await fetch(`${sim.baseUrl}/_sim/mailboxes/${upn}/access`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ denied: true, operations: ['exportItems'] }),
    });
    expect(control.status).toBe(204);
    const folders = await collect(client.listFolderChanges(mailboxId));
    expect(folders.length).toBeGreaterThan(0);
    const before = requestsTo(upn);
    const failure = await collect(client.exportItems(mailboxId, itemIds)).catch((error: unknown) => error);
    expect(requestsTo(upn) - before).toBe(1);
    expect((failure as Error).message).toContain('lacks the MailboxItem.Export.All permission');
  });
});

describe('which 403s are permission problems', () => {
  it('only those where Graph says access is denied (or gives no code); a full mailbox is not a missing permission', () => {
    for (const code of ['ErrorAccessDenied', 'AccessDenied', 'Authorization_RequestDenied', undefined, '403'])
      expect(isAccessDenial(403, code)).toBe(true);
    for (const code of ['ErrorQuotaExceeded', 'ErrorFolderNotFound', 'ErrorMailboxStoreUnavailable'])
      expect(isAccessDenial(403, code)).toBe(false);
    expect(isAccessDenial(401, 'ErrorAccessDenied')).toBe(false);
  });
});
