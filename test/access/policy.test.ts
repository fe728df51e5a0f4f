import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAILBOX_VAULT_API_RESOURCE } from '../../local/simulator/index.js';
import { signingKeySet } from '../../local/simulator/tokens.js';
import { authenticate } from '../../shared/access/authenticate.js';
import { encodeClientPrincipal } from '../../shared/access/principal.js';
import { ROLES } from '../../shared/access/roles.js';
import { parseTelemetry } from '../../shared/telemetry.js';
import { startStack, type Stack } from '../support/stack.js';
import { readAuditTrail } from '../support/auditTrail.js';

/** The restore policy's rules, and identity headers a caller forges, through the HTTP API. */
const ADELE = 'adele@contoso.example';
const NORA = 'nora@contoso.example';
const OUTSIDER = 'outsider@contoso.example';
const issuer = { issuer: '', audience: MAILBOX_VAULT_API_RESOURCE, keys: async () => signingKeySet().keys as never };

let stack: Stack;
const logs: string[] = [];
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
let operator: Record<string, string>;
let restorer: Record<string, string>;
let reader: Record<string, string>;
let adele: Record<string, string>;

const auditRecords = () => readAuditTrail(stack.audit);

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: ADELE, items: 6 },
        { upn: NORA, items: 6 },
        { upn: OUTSIDER, items: 3 },
      ],
    },
    {
      settings: {
        MAILBOX_VAULT_SCOPE_USERS: `${ADELE},${NORA}`,
        MAILBOX_VAULT_SELF_SERVICE: 'true',
        MAILBOX_VAULT_RESTORE_TARGETS: ADELE,
      },
      signIn: { operator: null, issuer },
      log: (_level, _name, ...args) => logs.push(args.map(String).join(' ')),
    },
  );
  issuer.issuer = `https://sts.windows.net/${stack.sim.tenant.tenantId}/`;
  const token = (roles: string[], user?: string) =>
    bearer(stack.sim.issueApiToken({ roles, ...(user ? { user } : { clientId: `app-${roles.join()}` }) }).token);
  operator = token([ROLES.operator]);
  restorer = token([ROLES.restorer]);
  reader = token([ROLES.reader]);
  adele = token([], ADELE);
  const backup = await stack.apiWith(operator, 'POST', '/api/backups');
  await stack.app.host.waitForCompletion(backup.body.id);
});
afterAll(() => stack.close());

describe('the restore policy', () => {
  it('refuses an on-demand backup of a mailbox outside the scope, naming it', async () => {
    const answer = await stack.apiWith(operator, 'POST', '/api/backups', { mailboxes: [ADELE, OUTSIDER] });
    expect(answer.status).toBe(403);
    expect(answer.body.error.rule).toBe('backupScope');
    expect(answer.body.error.errors.join()).toContain(OUTSIDER);
    expect(answer.body.error.errors.join()).not.toContain(ADELE);
  });

  it('refuses restores from or into a mailbox outside the scope', async () => {
    const into = await stack.apiWith(restorer, 'POST', '/api/restores', {
      sourceMailbox: ADELE,
      targetMailbox: OUTSIDER,
    });
    expect([into.status, into.body.error.rule]).toEqual([403, 'restoreTargetScope']);
    // The outsider was never backed up; even named by UPN the scope refuses it before the missing snapshot.
    const from = await stack.apiWith(restorer, 'POST', '/api/restores', { sourceMailbox: OUTSIDER });
    expect([from.status, from.body.error.rule]).toEqual([403, 'restoreSourceScope']);
  });

  it('refuses a self-service restore into another mailbox: that needs the restorer role', async () => {
    const answer = await stack.apiWith(adele, 'POST', '/api/restores', { sourceMailbox: ADELE, targetMailbox: NORA });
    expect([answer.status, answer.body.error.rule]).toEqual([403, 'restoreIntoOtherMailbox']);
  });

  it("refuses a self-service download of another's mailbox the same way, whatever its selection finds there", async () => {
    // A folder or a date range the other mailbox has or lacks must not answer differently (422 against 403).
    for (const selection of [
      {},
      { folders: ['Inbox'] },
      { folders: ['Inbox/No such folder'] },
      { receivedFrom: '2001-01-01T00:00:00Z', receivedTo: '2001-01-02T00:00:00Z' },
      { snapshot: '20200101T000000Z-00000000' },
    ]) {
      const answer = await stack.apiWith(adele, 'POST', '/api/downloads', { sourceMailbox: NORA, ...selection });
      expect(answer.status, JSON.stringify(selection)).toBe(403);
      expect(answer.body.error.title).toBe('Self-service shows your own mailbox only');
    }
  });

  it('refuses a self-service look at a name without a mailbox as at another mailbox: nothing told of either', async () => {
    for (const name of [NORA, 'nobody@contoso.example']) {
      const answer = await stack.apiWith(adele, 'GET', `/api/snapshots?mailbox=${encodeURIComponent(name)}`);
      expect(answer.status, name).toBe(403);
      expect(answer.body.error.title).toBe('Self-service shows your own mailbox only');
    }
    // An admin is told the name has no mailbox.
    expect((await stack.apiWith(reader, 'GET', '/api/snapshots?mailbox=nobody%40contoso.example')).status).toBe(404);
    // Asking for a restore, a preview or a download tells no more.
    for (const name of [NORA, 'nobody@contoso.example', 'MBX:00000000-0000-0000-0000-000000000000@contoso.example']) {
      for (const path of ['/api/restores', '/api/restores/preview', '/api/downloads']) {
        const answer = await stack.apiWith(adele, 'POST', path, { sourceMailbox: name });
        expect(answer.status, `${path} ${name}`).toBe(403);
        expect(answer.body.error.errors.join(), `${path} ${name}`).toMatch(/not the mailbox of/);
      }
      const into = await stack.apiWith(adele, 'POST', '/api/restores', { sourceMailbox: ADELE, targetMailbox: name });
      expect(into.body.error?.title, name).toBe('Restoring into another mailbox needs the restorer role');
    }
  });

  it('narrows targets to the allow-list for restores into another mailbox', async () => {
    const answer = await stack.apiWith(restorer, 'POST', '/api/restores', {
      sourceMailbox: ADELE,
      targetMailbox: NORA,
    });
    expect([answer.status, answer.body.error.rule]).toEqual([403, 'restoreTargetAllowList']);
    const allowed = await stack.apiWith(restorer, 'POST', '/api/restores', {
      sourceMailbox: NORA,
      targetMailbox: ADELE,
    });
    expect(allowed.status).toBe(202);
    await stack.app.host.waitForCompletion(allowed.body.id);
  });

  it('looks a raw mailbox id up rather than trusting it', async () => {
    const outsiderId = stack.sim.tenant.mailbox(OUTSIDER).id;
    const unknown = await stack.apiWith(restorer, 'POST', '/api/restores', {
      sourceMailbox: ADELE,
      targetMailbox: outsiderId,
    });
    expect([unknown.status, unknown.body.error.rule]).toEqual([403, 'mailboxIdLookup']);
    // A self-service user naming their colleague by mailbox id is still refused: the id is confirmed to be Nora's.
    const noraId = stack.sim.tenant.mailbox(NORA).id;
    const other = await stack.apiWith(adele, 'POST', '/api/restores', { sourceMailbox: noraId });
    expect([other.status, other.body.error.rule]).toEqual([403, 'selfServiceOwnMailbox']);
  });
});

describe('forged identity headers', () => {
  const forged = {
    'x-ms-client-principal': encodeClientPrincipal({
      oid: 'f0f0f0f0-0000-4000-8000-000000000000',
      roles: ROLES.restorer,
    }),
    'x-ms-client-principal-name': 'ceo@contoso.example',
    'x-forwarded-for': '203.0.113.9',
    'x-client-ip': '203.0.113.9',
  };

  it('are refused where App Service Authentication is not on', async () => {
    const headers = new Headers(forged);
    const refused = authenticate(headers, {});
    expect(refused).toMatchObject({ refused: { status: 401 } });
    expect(JSON.stringify(refused)).toContain('x-ms-client-principal');
    // The app itself, reached without the platform (no WEBSITE_AUTH_ENABLED): the same 401, nothing starts.
    const saved = process.env.WEBSITE_AUTH_ENABLED;
    delete process.env.WEBSITE_AUTH_ENABLED;
    try {
      const answer = await stack.app.host.invokeHttp('startRestore', {
        method: 'POST',
        url: `${stack.app.baseUrl}/api/restores`,
        headers: { ...forged, 'content-type': 'application/json' },
        body: JSON.stringify({ sourceMailbox: ADELE, targetMailbox: NORA }),
      });
      expect((answer as { status: number }).status).toBe(401);
    } finally {
      process.env.WEBSITE_AUTH_ENABLED = saved;
    }
  });

  it('are ignored where the platform sets its own: the verified caller and address are used', async () => {
    const before = (await auditRecords()).length;
    const anonymous = await stack.apiWith(forged, 'POST', '/api/restores', { sourceMailbox: ADELE });
    expect(anonymous.status).toBe(401);
    const asReader = await stack.apiWith({ ...forged, ...reader }, 'POST', '/api/restores', { sourceMailbox: ADELE });
    expect([asReader.status, asReader.body.error.rule]).toEqual([403, 'role']);
    const added = (await auditRecords()).slice(before);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ action: 'restore', outcome: 'refused', rule: 'role' });
    expect(added[0]!.who.roles).toEqual(['reader']);
    expect(added[0]!.who.name).not.toBe('ceo@contoso.example');
    expect(added[0]!.clientAddress).toMatch(/127\.0\.0\.1/);
    // The same record, as the Application Insights event the host's log line becomes.
    const events = parseTelemetry(logs).filter((e) => e.auditId === added[0]!.id);
    expect(events).toEqual([
      expect.objectContaining({
        name: 'AuditRecord',
        action: 'restore',
        outcome: 'refused',
        rule: 'role',
        roles: 'reader',
      }),
    ]);
  });
});
