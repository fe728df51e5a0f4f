import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  GraphAccessDeniedError,
  GraphRequestError,
  isAccessDenial,
  MailboxAccessDeniedError,
  MailboxClient,
  MailboxIdMissingError,
  MailboxNotFoundError,
} from '../../shared/graph/index.js';
import { resolveMailboxes } from '../../shared/backup/scope.js';
import { StaticTokenCredential } from '../../shared/credentials.js';
import { SimulatorTokenCredential, type Simulator } from '../../local/simulator/index.js';
import { clientFor, collect, FAST_RETRY, startSeededSimulator } from '../support/graph.js';

/**
 * settings/exchange as Graph really answers it (a `value` wrapper, a 200 without an id, a 400/403 for one user)
 * and refusals (403) for a permission the app's token lacks or a mailbox outside its RBAC scope, each failing
 * once with a message that says which: the simulator over HTTP, the real client.
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
  it('outside its RBAC scope, with the permission in its token: fails once, saying the mailbox is out of scope', async () => {
    sim.denyMailbox(upn);
    const mailboxId = sim.tenant.mailbox(upn).id;
    const before = requestsTo(upn);
    const failure = await collect(client.listFolderChanges(mailboxId)).catch((error: unknown) => error);
    expect(requestsTo(upn) - before).toBe(1);
    expect(failure).toBeInstanceOf(MailboxAccessDeniedError);
    expect(failure).toBeInstanceOf(GraphRequestError);
    expect(failure).toMatchObject({
      code: 'MailboxAccessDenied',
      status: 403,
      graphCode: 'ErrorAccessDenied',
      verdict: 'outsideScope',
    });
    expect((failure as Error).message).toBe(
      `Access denied to mailbox ${mailboxId} (folderDelta): the app's token carries MailboxFolder.Read.All, so the ` +
        "mailbox is outside the app's Exchange RBAC for Applications scope (or an application access policy " +
        'excludes it) (403 ErrorAccessDenied)',
    );
  });

  it('for a permission its token lacks: fails once, naming the permission and what the token carries', async () => {
    const { client: unprivileged } = clientFor(sim, {}, ['User.Read.All', 'MailboxItem.Read.All']);
    const mailboxId = sim.tenant.mailbox(upn).id;
    const before = requestsTo(upn);
    const failure = await collect(unprivileged.listFolderChanges(mailboxId)).catch((error: unknown) => error);
    expect(requestsTo(upn) - before).toBe(1);
    expect(failure).toMatchObject({ verdict: 'missingPermission', permission: 'MailboxFolder.Read.All' });
    expect((failure as Error).message).toBe(
      `Access denied to mailbox ${mailboxId} (folderDelta): the app lacks the MailboxFolder.Read.All application ` +
        'permission (its token carries User.Read.All, MailboxItem.Read.All); grant it with admin consent ' +
        '(403 ErrorAccessDenied)',
    );
  });

  it('names the permission of the operation refused, here exportItems, and takes the higher one as granting it', async () => {
    const mailboxId = sim.tenant.mailbox(upn).id;
    const itemIds = [...sim.tenant.mailbox(upn).items.keys()].slice(0, 3);
    const readOnly = clientFor(sim, {}, ['MailboxFolder.Read.All', 'MailboxItem.Read.All']).client;
    const before = requestsTo(upn);
    const failure = await collect(readOnly.exportItems(mailboxId, itemIds)).catch((error: unknown) => error);
    expect(requestsTo(upn) - before).toBe(1);
    expect((failure as Error).message).toContain('lacks the MailboxItem.Export.All application permission');
    const restorer = clientFor(sim, {}, ['MailboxItem.ImportExport.All']).client;
    expect(await collect(restorer.exportItems(mailboxId, itemIds))).toHaveLength(3);
  });

  it('says only what it knows when the token is opaque (the simulator demo token)', async () => {
    sim.denyMailbox(upn);
    const opaque = new MailboxClient(new StaticTokenCredential(sim.demoToken), { baseUrl: sim.baseUrl });
    const mailboxId = sim.tenant.mailbox(upn).id;
    const failure = await collect(opaque.listFolderChanges(mailboxId)).catch((error: unknown) => error);
    expect(failure).toMatchObject({ verdict: 'unknown' });
    expect((failure as Error).message).toBe(
      `Access denied to mailbox ${mailboxId} (folderDelta): the app lacks the MailboxFolder.Read.All permission ` +
        'or the mailbox is outside its RBAC scope (403 ErrorAccessDenied)',
    );
  });
});

describe('an app registration confined to some mailboxes (Exchange RBAC for Applications)', () => {
  it('gets its roles in its token from the token endpoint, and is refused every mailbox outside its scope', async () => {
    const other = 'blake@contoso.example';
    sim.tenant.addMailbox(other);
    sim.registerApp({ clientId: 'scoped-app', clientSecret: 'scoped-secret', mailboxScope: [upn] });
    const scoped = new MailboxClient(
      new SimulatorTokenCredential(sim.baseUrl, sim.tenant.tenantId, 'scoped-app', 'scoped-secret'),
      { baseUrl: sim.baseUrl, retry: FAST_RETRY },
    );
    expect((await collect(scoped.listFolderChanges(sim.tenant.mailbox(upn).id))).length).toBeGreaterThan(0);
    const failure = await collect(scoped.listFolderChanges(sim.tenant.mailbox(other).id)).catch((e: unknown) => e);
    expect(failure).toMatchObject({ verdict: 'outsideScope' });
    expect((failure as Error).message).toMatch(/outside the app's Exchange RBAC for Applications scope/);
  });
});

describe('scope resolution without a directory permission', () => {
  const GROUP = '11111111-2222-4333-8444-555555555555';

  it('fails at once, naming GroupMember.Read.All, when the group members cannot be listed', async () => {
    sim.tenant.groups.set(GROUP, [upn]);
    const { client: noGroups } = clientFor(sim, {}, ['User.Read.All', 'MailboxFolder.Read.All']);
    const before = sim.graphRequestsByClient.get('test') ?? 0;
    const failure = await resolveMailboxes(noGroups, { users: [], groupId: GROUP }).catch((error: unknown) => error);
    expect(sim.graphRequestsByClient.get('test')! - before).toBe(1);
    expect(failure).toBeInstanceOf(GraphAccessDeniedError);
    expect(failure).toMatchObject({ status: 403, code: 'Authorization_RequestDenied', verdict: 'missingPermission' });
    expect((failure as Error).message).toBe(
      'listGroupMembers failed with 403 Authorization_RequestDenied: Insufficient privileges to complete the ' +
        'operation. The app lacks the GroupMember.Read.All application permission (its token carries ' +
        'User.Read.All, MailboxFolder.Read.All); grant it with admin consent.',
    );
  });

  it('warns about each user, naming User.Read.All, when mailbox settings cannot be read', async () => {
    const { client: noUsers } = clientFor(sim, {}, ['MailboxFolder.Read.All']);
    const resolved = await resolveMailboxes(noUsers, { users: [upn] });
    expect(resolved.mailboxes).toEqual([]);
    expect(resolved.refusedUsers).toEqual([upn]);
    expect(resolved.warnings).toEqual([
      expect.stringContaining('The app lacks the User.Read.All application permission'),
    ]);
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
