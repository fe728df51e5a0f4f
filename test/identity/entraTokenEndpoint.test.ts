import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, createPrivateKey, randomUUID, sign, X509Certificate, constants } from 'node:crypto';
import { request } from 'node:https';
import { ClientCertificateCredential, ClientSecretCredential } from '@azure/identity';
import { createClientCertificate } from '../../local/simulator/localCa.js';
import type { Simulator } from '../../local/simulator/index.js';
import { startSeededSimulator } from '../support/graph.js';

/**
 * The simulator's Entra ID over real TLS, used by the real @azure/identity credential classes (MSAL underneath:
 * OpenID discovery, then the token endpoint), and checked as strictly as Entra ID checks a client secret or a
 * certificate-signed client assertion. The tokens carry the app registration's roles.
 */

const clientId = 'c0ffee00-0000-4000-8000-000000000001';
const clientSecret = 'Zq8~correct-horse-battery-staple';
const registered = createClientCertificate('registered');
const unregistered = createClientCertificate('not registered');
const roles = ['MailboxFolder.Read.All', 'MailboxItem.Read.All'];
const GRAPH = 'https://graph.microsoft.com/.default';

let sim: Simulator;

beforeAll(async () => {
  sim = await startSeededSimulator(
    { mailboxes: [{ upn: 'adele@contoso.example', items: 3 }] },
    { https: true, clients: [{ clientId, clientSecret, certificates: [registered.certificatePem], roles }] },
  );
});
afterAll(() => sim.close());

/** What a real deployment to a non-Microsoft authority sets, plus trust in the local CA for this process. */
function credentialOptions() {
  return {
    authorityHost: sim.https!.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: sim.https!.caCertificatePem },
  };
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function tokenEndpoint(): string {
  return `${sim.https!.baseUrl}/${sim.tenant.tenantId}/oauth2/v2.0/token`;
}

/** A raw HTTPS call trusting only the local CA (global fetch has no per-call CA option). */
function httpsCall(
  url: string,
  options: { method?: string; form?: Record<string, string>; ca?: string | undefined } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? (body ? 'POST' : 'GET'),
        ca: 'ca' in options ? options.ca : sim.https!.caCertificatePem,
        headers: body ? { 'Content-Type': 'application/x-www-form-urlencoded' } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A client assertion as RFC 7523 describes it, signed with the given key; parts can be spoiled on purpose. */
function assertion(
  overrides: { claims?: Record<string, unknown>; header?: Record<string, unknown>; key?: string; pem?: string } = {},
): string {
  const pem = overrides.pem ?? registered.certificatePem;
  const der = new X509Certificate(pem).raw;
  const now = Math.floor(Date.now() / 1000);
  const header = {
    alg: 'RS256',
    typ: 'JWT',
    x5t: createHash('sha1').update(der).digest('base64url'),
    ...overrides.header,
  };
  const claims = {
    aud: tokenEndpoint(),
    iss: clientId,
    sub: clientId,
    jti: randomUUID(),
    nbf: now,
    exp: now + 600,
    ...overrides.claims,
  };
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const signed = `${encode(header)}.${encode(claims)}`;
  const key = createPrivateKey(overrides.key ?? registered.privateKeyPem);
  const padding = header.alg === 'PS256' ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
  const signature = sign('sha256', Buffer.from(signed), { key, padding, saltLength: 32 });
  return `${signed}.${signature.toString('base64url')}`;
}

function assertionForm(clientAssertion: string): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_id: clientId,
    scope: GRAPH,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: clientAssertion,
  };
}

describe('the HTTPS listener', () => {
  it('presents a certificate from the local CA: trusted with it, refused without it', async () => {
    const discovery = `${sim.https!.authorityHost}/${sim.tenant.tenantId}/v2.0/.well-known/openid-configuration`;
    const { status, body } = await httpsCall(discovery);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      token_endpoint: tokenEndpoint(),
      issuer: expect.stringContaining(sim.https!.baseUrl),
    });
    const untrusted = await httpsCall(discovery, { ca: undefined }).catch((error: NodeJS.ErrnoException) => error);
    expect((untrusted as NodeJS.ErrnoException).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

describe('ClientSecretCredential', () => {
  it("gets a Graph token that carries the app registration's roles", async () => {
    const credential = new ClientSecretCredential(sim.tenant.tenantId, clientId, clientSecret, credentialOptions());
    const { token } = (await credential.getToken(GRAPH))!;
    expect(claimsOf(token)).toMatchObject({ aud: 'https://graph.microsoft.com', appid: clientId, roles });
    const mailbox = encodeURIComponent(sim.tenant.mailbox('adele@contoso.example').id);
    const graph = (path: string) =>
      fetch(`${sim.baseUrl}/v1.0/admin/exchange/mailboxes/${mailbox}/${path}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
    expect((await graph('folders/inbox')).status).toBe(200);
    // Granted MailboxItem.Read.All, not MailboxItem.Export.All.
    const refused = await fetch(`${sim.baseUrl}/v1.0/admin/exchange/mailboxes/${mailbox}/exportItems`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ itemIds: [...sim.tenant.mailbox('adele@contoso.example').items.keys()].slice(0, 1) }),
    });
    expect(refused.status).toBe(403);
  });

  it('is refused a wrong secret with AADSTS7000215, in an error that never shows the secret', async () => {
    const wrong = 'Zq8~not-the-secret-at-all';
    const credential = new ClientSecretCredential(sim.tenant.tenantId, clientId, wrong, credentialOptions());
    const failure = (await credential.getToken(GRAPH).catch((error: unknown) => error)) as Error;
    expect(failure.message).toMatch(/AADSTS7000215: Invalid client secret provided/);
    expect(`${failure.message} ${failure.stack} ${JSON.stringify(failure)}`).not.toContain(wrong);
  });
});

describe('ClientCertificateCredential', () => {
  it('signs an assertion with the PEM it is given, which the endpoint verifies against the registered certificate', async () => {
    const pem = `${registered.privateKeyPem}${registered.certificatePem}`;
    const credential = new ClientCertificateCredential(
      sim.tenant.tenantId,
      clientId,
      { certificate: pem },
      credentialOptions(),
    );
    const { token } = (await credential.getToken(GRAPH))!;
    expect(claimsOf(token)).toMatchObject({ appid: clientId, roles });
  });

  it('is refused a certificate the app registration does not have (AADSTS700027)', async () => {
    const pem = `${unregistered.privateKeyPem}${unregistered.certificatePem}`;
    const credential = new ClientCertificateCredential(
      sim.tenant.tenantId,
      clientId,
      { certificate: pem },
      credentialOptions(),
    );
    await expect(credential.getToken(GRAPH)).rejects.toThrow(/AADSTS700027: The certificate .* is not registered/);
  });
});

describe('client assertions, checked as Entra ID checks them', () => {
  it('accepts RS256 with a SHA-1 thumbprint (x5t) and PS256 with a SHA-256 one (x5t#S256)', async () => {
    expect((await httpsCall(tokenEndpoint(), { form: assertionForm(assertion()) })).status).toBe(200);
    const der = new X509Certificate(registered.certificatePem).raw;
    const ps256 = assertion({
      header: { alg: 'PS256', x5t: undefined, 'x5t#S256': createHash('sha256').update(der).digest('base64url') },
    });
    expect((await httpsCall(tokenEndpoint(), { form: assertionForm(ps256) })).status).toBe(200);
  });

  it.each([
    [
      'a signature by another key under the registered thumbprint',
      () => assertion({ key: unregistered.privateKeyPem }),
      700027,
      /failed signature validation/,
    ],
    ['another audience', () => assertion({ claims: { aud: 'https://example.test/token' } }), 50027, /audience/],
    ['an issuer other than the app', () => assertion({ claims: { iss: 'someone-else' } }), 700021, /client_id/],
    [
      'an expired assertion',
      () => assertion({ claims: { nbf: 1_700_000_000, exp: 1_700_000_600 } }),
      700024,
      /not within its valid time range/,
    ],
    ['not a JWT', () => 'not-a-jwt', 50027, /malformed/],
  ])('refuses %s', async (_case, make, code, message) => {
    const { status, body } = await httpsCall(tokenEndpoint(), { form: assertionForm(make()) });
    expect(status).toBe(401);
    expect(body).toMatchObject({ error: 'invalid_client', error_codes: [code] });
    expect(body.error_description).toMatch(message);
  });

  it('refuses a body that does not say it carries a JWT assertion', async () => {
    const form = { ...assertionForm(assertion()), client_assertion_type: 'password' };
    expect((await httpsCall(tokenEndpoint(), { form })).status).toBe(400);
  });
});

describe('the client-credentials request', () => {
  const base = { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: GRAPH };

  it.each([
    ['a scope without /.default', { scope: 'https://graph.microsoft.com/Mail.Read' }, 400, 1002012],
    ['an unknown resource', { scope: 'https://example.test/.default' }, 400, 500011],
    ['an unknown app', { client_id: 'd0d0d0d0-0000-4000-8000-000000000000' }, 400, 700016],
    ['no credential at all', { client_secret: '' }, 401, 7000218],
    ['another grant', { grant_type: 'password' }, 400, 70003],
  ])('refuses %s', async (_case, change, status, code) => {
    const form = Object.fromEntries(Object.entries({ ...base, ...change }).filter(([, value]) => value !== ''));
    const answer = await httpsCall(tokenEndpoint(), { form });
    expect(answer.status).toBe(status);
    expect(answer.body.error_codes).toEqual([code]);
  });

  it('refuses an unknown tenant (AADSTS90002)', async () => {
    const answer = await httpsCall(`${sim.https!.baseUrl}/not-our-tenant/oauth2/v2.0/token`, { form: base });
    expect(answer).toMatchObject({ status: 400, body: { error_codes: [90002] } });
  });
});
