import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingKeySet } from '../../local/simulator/tokens.js';
import { MAILBOX_VAULT_API_RESOURCE } from '../../local/simulator/index.js';
import { ROLE_NAMES, ROLES } from '../../shared/access/roles.js';
import type { AuditRecord } from '../../shared/audit/record.js';
import { API_ROUTES } from '../../functions/http.js';
import { startStack, type Stack } from '../support/stack.js';
import { readAuditTrail } from '../support/auditTrail.js';

/**
 * The role × route table of the README, called cell by cell: every route as anonymous, as each role, and as a
 * self-service user for their own and for another's mailbox. A ✓ is the route's success, with input it takes
 * (real snapshot and item ids, a restore still running to cancel), not merely "neither 401 nor 403". Each
 * mutating call leaves exactly one audit record naming the identity of the token that made it (none for anonymous
 * calls, which never reach the app).
 */
const OWN = 'adele@contoso.example';
const OTHER = 'nora@contoso.example';
const OUTSIDER = 'outsider@contoso.example';
/** The staging mailbox downloads convert through (shared/download). */
const STAGING = 'staging@contoso.example';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const COLUMNS = ['anonymous', 'reader', 'operator', 'restorer', 'selfOwn', 'selfOther'] as const;
type Column = (typeof COLUMNS)[number];

/**
 * What a ✓ answers: 200, but 202 where the call starts work that goes on after the answer (a backup run, a
 * restore, maintenance, a download: README, API) and for the cancel of a running restore, which is accepted and
 * ends it (functions/restoreTriggers.ts; a restore already finished would be a 409, so the row cancels one that
 * still runs).
 */
const SUCCESS: Record<string, number> = {
  'POST /api/backups': 202,
  'POST /api/restores': 202,
  'DELETE /api/restores/{id}': 202,
  'POST /api/maintenance': 202,
  'POST /api/downloads': 202,
};
const successOf = (route: string) => SUCCESS[route] ?? 200;

/** The README's table: route → column → expected answer ('✓', '401', or '403 rule'). */
function readmeTable(): Map<string, Record<Column, string>> {
  const start = readme.indexOf('| Route | Anonymous | Reader |');
  const rows = readme.slice(start).split('\n').slice(2);
  const table = new Map<string, Record<Column, string>>();
  for (const row of rows) {
    if (!row.startsWith('| `')) break;
    const cells = row
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim().replace(/`/g, ''));
    table.set(cells[0]!, Object.fromEntries(COLUMNS.map((c, i) => [c, cells[i + 1]!])) as Record<Column, string>);
  }
  return table;
}

let stack: Stack;
/** Tokens of the simulated tenant, as Easy Auth would accept them; its id is known once the simulator runs. */
const issuer = {
  issuer: '',
  audience: MAILBOX_VAULT_API_RESOURCE,
  keys: async () => signingKeySet().keys as never,
};
const tokens: Partial<Record<Column, string>> = {};
const ids = {
  backup: '',
  maintenance: '',
  ownRestore: '',
  otherRestore: '',
  ownDownload: '',
  otherDownload: '',
  /** A restore kept running (the simulator answers slowly) while the DELETE row's cells try to cancel it. */
  runningRestore: '',
  /** Each mailbox's snapshot (the backup in beforeAll takes one each) and a message in it. */
  snapshot: { [OWN]: '', [OTHER]: '' } as Record<string, string>,
  item: { [OWN]: '', [OTHER]: '' } as Record<string, string>,
};

function headersFor(column: Column): Record<string, string> {
  const token = tokens[column];
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * Who the column's token says the caller is, read from its claims as Easy Auth passes them on: the identity an
 * audit record must name (shared/access/principal.ts: a user by UPN, an application by its app id).
 */
function identityOf(column: Column): AuditRecord['who'] {
  const claims = JSON.parse(Buffer.from(tokens[column]!.split('.')[1]!, 'base64url').toString('utf8')) as {
    idtyp: string;
    oid: string;
    upn?: string;
    appid: string;
    roles: string[];
  };
  const user = claims.idtyp === 'user';
  return {
    kind: user ? 'user' : 'application',
    oid: claims.oid,
    upn: user ? claims.upn! : null,
    name: user ? claims.upn! : claims.appid,
    roles: ROLE_NAMES.filter((role) => claims.roles.includes(ROLES[role])),
  };
}

/** The request a cell makes: the own-mailbox variant for every column but the last. */
function requestFor(route: string, column: Column): { method: string; path: string; body?: unknown } {
  const mailbox = column === 'selfOther' ? OTHER : OWN;
  const restoreId = column === 'selfOther' ? ids.otherRestore : ids.ownRestore;
  const snapshot = ids.snapshot[mailbox]!;
  const compared = `mailbox=${mailbox}&from=${snapshot}&to=${snapshot}`;
  const downloadId = column === 'selfOther' ? ids.otherDownload : ids.ownDownload;
  switch (route) {
    case 'POST /api/backups':
      return { method: 'POST', path: '/api/backups', body: { mailboxes: [mailbox] } };
    case 'GET /api/backups/{id}':
      return { method: 'GET', path: `/api/backups/${ids.backup}` };
    case 'GET /api/backups/{id}/mailboxes':
      return { method: 'GET', path: `/api/backups/${ids.backup}/mailboxes?page=0` };
    case 'POST /api/restores':
      return { method: 'POST', path: '/api/restores', body: { sourceMailbox: mailbox } };
    case 'GET /api/restores/{id}':
      return { method: 'GET', path: `/api/restores/${restoreId}` };
    case 'DELETE /api/restores/{id}':
      return { method: 'DELETE', path: `/api/restores/${column === 'selfOther' ? restoreId : ids.runningRestore}` };
    case 'GET /api/snapshots':
      return { method: 'GET', path: `/api/snapshots?mailbox=${mailbox}` };
    case 'GET /api/snapshots/{id}/items':
      return { method: 'GET', path: `/api/snapshots/latest/items?mailbox=${mailbox}` };
    case 'POST /api/maintenance':
      return { method: 'POST', path: '/api/maintenance', body: { prune: { dryRun: true } } };
    case 'GET /api/maintenance/{id}':
      return { method: 'GET', path: `/api/maintenance/${ids.maintenance}` };
    case 'GET /api/audit':
      return { method: 'GET', path: '/api/audit' };
    // The portal's read-only routes: what they answer beyond their success is their own tests' business.
    case 'GET /api/search':
      return { method: 'GET', path: `/api/search?mailbox=${mailbox}&q=a` };
    // A snapshot compared with itself: valid input (no changes), and the mailbox has but the one snapshot.
    case 'GET /api/compare':
    case 'GET /api/compare/missing':
      return { method: 'GET', path: `${route.split(' ')[1]}?${compared}` };
    case 'GET /api/compare/items':
      return { method: 'GET', path: `/api/compare/items?${compared}&kind=added` };
    case 'POST /api/restores/preview':
      return { method: 'POST', path: '/api/restores/preview', body: { sourceMailbox: mailbox } };
    case 'GET /api/mailboxes':
    case 'GET /api/dashboard':
      return { method: 'GET', path: route.split(' ')[1]! };
    case 'GET /api/snapshots/{id}/items/{itemId}/content':
      return {
        method: 'GET',
        path: `/api/snapshots/${snapshot}/items/${encodeURIComponent(ids.item[mailbox]!)}/content?mailbox=${mailbox}`,
      };
    case 'POST /api/downloads':
      return { method: 'POST', path: '/api/downloads', body: { sourceMailbox: mailbox, format: 'mbox' } };
    case 'GET /api/downloads/{id}':
      return { method: 'GET', path: `/api/downloads/${downloadId}` };
    case 'GET /api/downloads/{id}/file':
      return { method: 'GET', path: `/api/downloads/${downloadId}/file` };
    // Who is signed in: no mailbox involved, so the self-service user's own answer in both of their columns.
    case 'GET /api/me':
      return { method: 'GET', path: '/api/me' };
    default:
      throw new Error(`No request for ${route}: add it here and a row to the README's table`);
  }
}

const auditRecords = () => readAuditTrail(stack.audit);

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: OWN, items: 8 },
        { upn: OTHER, items: 8 },
        { upn: OUTSIDER, items: 3 },
        { upn: STAGING, items: 0 },
      ],
    },
    {
      settings: {
        MAILBOX_VAULT_SCOPE_USERS: `${OWN},${OTHER}`,
        MAILBOX_VAULT_SELF_SERVICE: 'true',
        MAILBOX_VAULT_STAGING_MAILBOX: STAGING,
      },
      // Nobody is signed in without a token: the anonymous column is Easy Auth's 401.
      signIn: { operator: null, issuer },
    },
  );
  issuer.issuer = `https://sts.windows.net/${stack.sim.tenant.tenantId}/`;
  for (const role of ['reader', 'operator', 'restorer'] as const)
    tokens[role] = stack.sim.issueApiToken({ clientId: `automation-${role}`, roles: [ROLES[role]] }).token;
  tokens.selfOwn = stack.sim.issueApiToken({ user: OWN }).token;
  tokens.selfOther = tokens.selfOwn;
  // Four callers, four identities: a record naming the wrong one cannot pass for the right one.
  const callers = (['reader', 'operator', 'restorer', 'selfOwn'] as const).map(identityOf);
  expect(new Set(callers.map((who) => who.oid)).size).toBe(4);
  expect(callers.map((who) => who.roles)).toEqual([['reader'], ['operator'], ['restorer'], []]);

  const backup = await stack.apiWith(headersFor('operator'), 'POST', '/api/backups');
  expect(backup.status, JSON.stringify(backup.body)).toBe(202);
  ids.backup = backup.body.id;
  await stack.app.host.waitForCompletion(ids.backup);
  for (const mailbox of [OWN, OTHER]) {
    const snapshots = await stack.apiWith(headersFor('reader'), 'GET', `/api/snapshots?mailbox=${mailbox}`);
    ids.snapshot[mailbox] = snapshots.body.snapshots[0].id;
    const items = await stack.apiWith(
      headersFor('reader'),
      'GET',
      `/api/snapshots/${ids.snapshot[mailbox]}/items?mailbox=${mailbox}&folder=Inbox`,
    );
    // A message: what the content route converts to an .eml (other classes are refused, 422).
    ids.item[mailbox] = items.body.items.find((i: { type: string }) => /^ipm\.note$/i.test(i.type)).id;
  }
  const own = await stack.apiWith(headersFor('selfOwn'), 'POST', '/api/restores', { sourceMailbox: OWN });
  expect(own.status, JSON.stringify(own.body)).toBe(202);
  ids.ownRestore = own.body.id;
  const other = await stack.apiWith(headersFor('restorer'), 'POST', '/api/restores', { sourceMailbox: OTHER });
  ids.otherRestore = other.body.id;
  const maintenance = await stack.apiWith(headersFor('operator'), 'POST', '/api/maintenance', {
    prune: { dryRun: true },
  });
  ids.maintenance = maintenance.body.id;
  const ownDownload = await stack.apiWith(headersFor('selfOwn'), 'POST', '/api/downloads', { sourceMailbox: OWN });
  expect(ownDownload.status, JSON.stringify(ownDownload.body)).toBe(202);
  ids.ownDownload = ownDownload.body.id;
  ids.otherDownload = (
    await stack.apiWith(headersFor('restorer'), 'POST', '/api/downloads', { sourceMailbox: OTHER })
  ).body.id;
  const started = [ids.ownRestore, ids.otherRestore, ids.maintenance, ids.ownDownload, ids.otherDownload];
  for (const id of started) await stack.app.host.waitForCompletion(id);
});
afterAll(() => stack.close());

/**
 * A restore that is still running while the DELETE row is called: every Graph call on a mailbox answers after
 * a second, so the restore (dozens of calls) outlasts the row's six cells; the row ends by answering at once again.
 */
async function startSlowRestore(): Promise<string> {
  stack.sim.setLatency(1000);
  const started = await stack.apiWith(headersFor('restorer'), 'POST', '/api/restores', { sourceMailbox: OWN });
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const status = await stack.apiWith(headersFor('reader'), 'GET', `/api/restores/${started.body.id}`);
  expect(status.body.status, JSON.stringify(status.body)).toMatch(/^(Pending|Running)$/);
  return started.body.id;
}

describe('the role × route table', () => {
  it('has a row for every route the code registers, and no other', () => {
    const registered = API_ROUTES.map((r) => `${r.method} /api/${r.route}`).sort();
    expect([...readmeTable().keys()].sort()).toEqual(registered);
  });

  it.each([...readmeTable().entries()])('%s answers as the README says', async (route, row) => {
    const access = API_ROUTES.find((r) => `${r.method} /api/${r.route}` === route)!.access;
    if (route === 'DELETE /api/restores/{id}') ids.runningRestore = await startSlowRestore();
    try {
      for (const column of COLUMNS) {
        const { method, path, body } = requestFor(route, column);
        const before = (await auditRecords()).length;
        const response = await stack.apiWith(headersFor(column), method, path, body);
        const expected = row[column];
        const where = `${route} as ${column}: ${response.status} ${String(JSON.stringify(response.body)).slice(0, 300)}`;
        if (expected === '✓') expect(response.status, where).toBe(successOf(route));
        else {
          const [status, rule] = expected.split(' ');
          expect(response.status, where).toBe(Number(status));
          if (rule) expect(response.body.error.rule, where).toBe(rule);
        }
        // Started work finishes before the next cell, so one cell's run never changes another's answer.
        if (response.status === 202) await stack.app.host.waitForCompletion(response.body.id);
        const added = (await auditRecords()).slice(before);
        expect(added.length, `audit records of ${where}`).toBe(access.audit && column !== 'anonymous' ? 1 : 0);
        if (added[0]) {
          expect(added[0].action, where).toBe(access.audit);
          expect(added[0].route, where).toBe(route);
          expect(added[0].who, `who, in the audit record of ${where}`).toEqual(identityOf(column));
          expect(added[0].outcome, where).toBe(response.status < 300 ? 'accepted' : 'refused');
        }
      }
    } finally {
      stack.sim.setLatency(0);
    }
  });
});
