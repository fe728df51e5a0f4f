import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_ROLES, DEFAULT_APP_ROLES, OPERATION_PERMISSIONS } from '../../local/simulator/permissions.js';
import { DIRECTORY_ROUTES, MAILBOX_ROUTES, USER_MAILBOX_ROUTES } from '../../local/simulator/routes.js';
import type { Simulator } from '../../local/simulator/index.js';
import { PERMISSIONS_OF_OPERATION } from '../../shared/graph/index.js';
import { RAW_HTTP, startSeededSimulator } from '../support/graph.js';

/**
 * Tokens carry the roles granted to the app, and every Graph route of the simulator checks the permission its
 * operation needs (graph-mailbox-api.md §3.14), answering as Graph does (403) when the token lacks it.
 */

const upn = 'adele@contoso.example';
const GROUP = '0d0d0d0d-1111-4222-8333-444444444444';
let sim: Simulator;
let itemId: string;
let folderId: string;

beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn, items: 5 }] }, RAW_HTTP);
  sim.tenant.groups.set(GROUP, [upn]);
  const mailbox = sim.tenant.mailbox(upn);
  itemId = [...mailbox.items.values()].find((i) => i.folderId === mailbox.folderByIdOrName('inbox')!.id)!.id;
  folderId = sim.tenant.ensureFolderPath(mailbox, 'Inbox/Permissions test').id;
});
afterAll(() => sim.close());

/** One request per operation, valid in every other respect. */
function requestFor(operation: string): { method: string; path: string; body?: unknown } {
  const mailbox = `/admin/exchange/mailboxes/${encodeURIComponent(sim.tenant.mailbox(upn).id)}`;
  const item = encodeURIComponent(itemId);
  const requests: Record<string, { method: string; path: string; body?: unknown }> = {
    getMailboxSettings: { method: 'GET', path: `/users/${upn}/settings/exchange` },
    listGroupMembers: { method: 'GET', path: `/groups/${GROUP}/transitiveMembers/microsoft.graph.user` },
    listFolders: { method: 'GET', path: `${mailbox}/folders` },
    getFolder: { method: 'GET', path: `${mailbox}/folders/inbox` },
    listChildFolders: { method: 'GET', path: `${mailbox}/folders/inbox/childFolders` },
    folderDelta: { method: 'GET', path: `${mailbox}/folders/delta` },
    createFolder: {
      method: 'POST',
      path: `${mailbox}/folders/inbox/childFolders`,
      body: { displayName: `New ${Math.random()}`, type: 'IPF.Note' },
    },
    updateFolder: {
      method: 'PATCH',
      path: `${mailbox}/folders/${encodeURIComponent(folderId)}`,
      body: { displayName: `Renamed ${Math.random()}` },
    },
    listItems: { method: 'GET', path: `${mailbox}/folders/inbox/items` },
    getItem: { method: 'GET', path: `${mailbox}/folders/inbox/items/${item}` },
    itemDelta: { method: 'GET', path: `${mailbox}/folders/inbox/items/delta` },
    exportItems: { method: 'POST', path: `${mailbox}/exportItems`, body: { itemIds: [itemId] } },
    createImportSession: { method: 'POST', path: `${mailbox}/createImportSession` },
    getMessageContent: { method: 'GET', path: `/users/${upn}/messages/${item}/$value` },
    listMessages: { method: 'GET', path: `/users/${upn}/mailFolders/inbox/messages` },
  };
  return requests[operation]!;
}

async function call(operation: string, roles: readonly string[]) {
  const { method, path, body } = requestFor(operation);
  const response = await fetch(`${sim.baseUrl}/v1.0${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${sim.issueToken({ roles }).token}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  // $value answers MIME, not JSON.
  const text = await response.text();
  const json = text.startsWith('{') ? (JSON.parse(text) as { error?: { code: string; message: string } }) : {};
  return { status: response.status, body: json };
}

// Deletions remove what they name and $batch needs nothing of its own: each has a test below.
const DELETIONS = ['deleteItem', 'deleteFolder', 'permanentDeleteMessage', 'permanentDeleteFolder'];
const CHECKED = Object.keys(OPERATION_PERMISSIONS).filter((op) => ![...DELETIONS, 'batch'].includes(op));

describe('the permission table', () => {
  it('has an entry for every Graph route, and says the same as the client', () => {
    for (const route of [...MAILBOX_ROUTES, ...DIRECTORY_ROUTES, ...USER_MAILBOX_ROUTES])
      expect(OPERATION_PERMISSIONS, `${route.method} ${route.pattern}`).toHaveProperty(route.operation);
    // The client names $batch item GETs 'getItems'; the simulator checks each GET of a batch as 'getItem'.
    const clientOnly = { getItems: 'getItem' } as Record<string, string>;
    for (const [operation, permissions] of Object.entries(PERMISSIONS_OF_OPERATION))
      expect(permissions, operation).toEqual(OPERATION_PERMISSIONS[clientOnly[operation] ?? operation]);
    const unknownToClient = Object.keys(OPERATION_PERMISSIONS).filter((op) => !(op in PERMISSIONS_OF_OPERATION));
    expect(unknownToClient).toEqual(['batch']);
  });

  it('grants an app registration, by default, what the README lists for backup and restore', () => {
    expect(DEFAULT_APP_ROLES).toEqual(
      expect.arrayContaining(['User.Read.All', 'MailboxFolder.Read.All', 'MailboxItem.Read.All']),
    );
    expect(DEFAULT_APP_ROLES).toEqual(expect.arrayContaining(['MailboxItem.Export.All', 'GroupMember.Read.All']));
    expect(DEFAULT_APP_ROLES).toEqual(
      expect.arrayContaining(['MailboxItem.ImportExport.All', 'MailboxFolder.ReadWrite.All']),
    );
  });
});

describe('each operation', () => {
  it.each(CHECKED)('%s: done with its least privileged permission alone', async (operation) => {
    const { status } = await call(operation, [OPERATION_PERMISSIONS[operation]![0]!]);
    expect(status).toBeLessThan(300);
  });

  it.each(CHECKED)('%s: refused (403) with every other role but the ones it accepts', async (operation) => {
    const others = ALL_ROLES.filter((role) => !OPERATION_PERMISSIONS[operation]!.includes(role));
    const { status, body } = await call(operation, others);
    expect(status).toBe(403);
    if (operation === 'listGroupMembers')
      expect(body.error).toMatchObject({
        code: 'Authorization_RequestDenied',
        message: 'Insufficient privileges to complete the operation.',
      });
    else
      expect(body.error).toMatchObject({
        code: 'ErrorAccessDenied',
        message: 'Access is denied. Check credentials and try again.',
      });
  });

  it('permanentDelete of a message or a folder needs Mail.ReadWrite, which Mail.Read does not give', async () => {
    const mailbox = sim.tenant.mailbox(upn);
    const folder = sim.tenant.ensureFolderPath(mailbox, `Staging ${Math.random()}`);
    const message = sim.tenant.addItem(mailbox, folder.id, { type: 'IPM.Note' });
    const post = (path: string, roles: string[]) =>
      fetch(`${sim.baseUrl}/v1.0/users/${upn}/${path}/permanentDelete`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${sim.issueToken({ roles }).token}` },
      });
    const messagePath = `messages/${encodeURIComponent(message.id)}`;
    const folderPath = `mailFolders/${encodeURIComponent(folder.id)}`;
    expect((await post(messagePath, ['Mail.Read'])).status).toBe(403);
    expect((await post(messagePath, ['Mail.ReadWrite'])).status).toBe(204);
    expect(mailbox.items.has(message.id)).toBe(false);
    expect((await post(folderPath, ['Mail.Read', 'MailboxFolder.ReadWrite.All'])).status).toBe(403);
    expect((await post(folderPath, ['Mail.ReadWrite'])).status).toBe(204);
    expect(mailbox.folders.has(folder.id)).toBe(false);
  });

  it('takes a higher permission where the docs list one (exportItems with MailboxItem.ImportExport.All)', async () => {
    expect((await call('exportItems', ['MailboxItem.ImportExport.All'])).status).toBe(200);
    expect((await call('listFolders', ['MailboxFolder.ReadWrite.All'])).status).toBe(200);
  });

  it('deleteItem needs MailboxItem.ReadWrite.All, which reading does not give', async () => {
    const mailbox = encodeURIComponent(sim.tenant.mailbox(upn).id);
    const remove = (roles: string[]) =>
      fetch(
        `${sim.baseUrl}/beta/admin/exchange/mailboxes/${mailbox}/folders/inbox/items/${encodeURIComponent(itemId)}?disposalType=softDelete`,
        {
          method: 'DELETE',
          headers: { Authorization: `Bearer ${sim.issueToken({ roles }).token}` },
        },
      );
    expect((await remove(['MailboxItem.Read.All', 'MailboxItem.ImportExport.All'])).status).toBe(403);
    expect((await remove(['MailboxItem.ReadWrite.All'])).status).toBeLessThan(300);
  });
});

describe('a $batch call', () => {
  it('is taken with any token, and each of its requests is checked as if sent alone', async () => {
    const mailbox = `/admin/exchange/mailboxes/${encodeURIComponent(sim.tenant.mailbox(upn).id)}`;
    const response = await fetch(`${sim.baseUrl}/v1.0/$batch`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${sim.issueToken({ roles: ['MailboxFolder.Read.All'] }).token}`,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({
        requests: [
          { id: '1', method: 'GET', url: `${mailbox}/folders/inbox` },
          { id: '2', method: 'GET', url: `${mailbox}/folders/inbox/items/${encodeURIComponent(itemId)}` },
        ],
      }),
    });
    expect(response.status).toBe(200);
    const { responses } = (await response.json()) as { responses: Array<{ id: string; status: number }> };
    expect(Object.fromEntries(responses.map((r) => [r.id, r.status]))).toEqual({ '1': 200, '2': 403 });
  });
});

describe('tokens', () => {
  it("carry the app registration's roles from the token endpoint; the demo token has every role", async () => {
    const registered = await fetch(`${sim.baseUrl}/_sim/apps/reader`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ clientSecret: 'r', roles: ['MailboxFolder.Read.All'] }),
    });
    expect(registered.status).toBe(204);
    const response = await fetch(`${sim.baseUrl}/${sim.tenant.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'reader',
        client_secret: 'r',
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    const { access_token } = (await response.json()) as { access_token: string };
    const claims = JSON.parse(Buffer.from(access_token.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims).toMatchObject({
      aud: 'https://graph.microsoft.com',
      appid: 'reader',
      roles: ['MailboxFolder.Read.All'],
    });
    const mailbox = encodeURIComponent(sim.tenant.mailbox(upn).id);
    const asDemo = await fetch(`${sim.baseUrl}/v1.0/admin/exchange/mailboxes/${mailbox}/exportItems`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${sim.demoToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ itemIds: [itemId] }),
    });
    expect(asDemo.status).toBe(200);
  });

  it('for another resource are refused by Graph (401, invalid audience)', async () => {
    const { IDENTITY_ENDPOINT, IDENTITY_HEADER } = sim.managedIdentityEnvironment;
    const minted = await fetch(`${IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=https://vault.localhost`, {
      headers: { 'X-IDENTITY-HEADER': IDENTITY_HEADER },
    });
    const { access_token } = (await minted.json()) as { access_token: string };
    const response = await fetch(`${sim.baseUrl}/v1.0/users/${upn}/settings/exchange`, {
      headers: { Authorization: `Bearer ${access_token}` },
    });
    expect(response.status).toBe(401);
  });
});
