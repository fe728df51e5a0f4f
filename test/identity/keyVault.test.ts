import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { request } from 'node:https';
import type { Simulator } from '../../local/simulator/index.js';
import { startSeededSimulator } from '../support/graph.js';

/**
 * The simulator's Key Vault (secrets API over TLS, challenge-based authentication) and the managed identity
 * endpoint App Service gives an app, at the HTTP level: what @azure/keyvault-secrets and ManagedIdentityCredential
 * rely on (they are used for real in keyVaultEndToEnd.test.ts).
 */

const clientId = 'b0b0b0b0-0000-4000-8000-000000000002';
const clientSecret = 'app-secret-for-vault-test';
let sim: Simulator;

beforeAll(async () => {
  sim = await startSeededSimulator(
    { mailboxes: [] },
    { https: true, clients: [{ clientId, clientSecret }], secrets: { 'graph-client-credential': 'the-value' } },
  );
});
afterAll(() => sim.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** `*.vault.localhost` resolves to loopback (RFC 6761), whatever this machine's resolver does. */
const loopback = ((_host: string, options: LookupOptions, callback: (...args: unknown[]) => void) =>
  options.all
    ? callback(null, [{ address: '127.0.0.1', family: 4 }])
    : callback(null, '127.0.0.1', 4)) as unknown as LookupFunction;

/** An HTTPS call to the vault's own name (resolved to loopback here), trusting the local CA. */
function vaultCall(path: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${sim.https!.keyVaultUrl}${path}`,
      {
        ca: sim.https!.caCertificatePem,
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        lookup: loopback,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function managedIdentityToken(resource: string, header = sim.managedIdentityEnvironment.IDENTITY_HEADER) {
  const url = new URL(sim.managedIdentityEnvironment.IDENTITY_ENDPOINT);
  url.searchParams.set('api-version', '2019-08-01');
  url.searchParams.set('resource', resource);
  const response = await fetch(url, { headers: { 'X-IDENTITY-HEADER': header } });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

const VERSION = '?api-version=2025-07-01';

describe('the managed identity endpoint', () => {
  it("gives a token for the resource asked, only to a caller with the app's IDENTITY_HEADER", async () => {
    const { status, body } = await managedIdentityToken('https://vault.localhost');
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', resource: 'https://vault.localhost' });
    expect(Number(body.expires_on)).toBeGreaterThan(Date.now() / 1000);
    expect((await managedIdentityToken('https://vault.localhost', 'guessed')).status).toBe(401);
  });
});

describe('Key Vault', () => {
  it('answers an unauthenticated request with the challenge naming the authority and the resource', async () => {
    const { status, headers, body } = await vaultCall(`/secrets/graph-client-credential/${VERSION}`);
    expect(status).toBe(401);
    expect(headers['www-authenticate']).toBe(
      `Bearer authorization="${sim.https!.authorityHost}/${sim.tenant.tenantId}", resource="https://vault.localhost"`,
    );
    expect(body).toMatchObject({ error: { code: 'Unauthorized' } });
  });

  it("gives the secret to the app's managed identity, by name or by version", async () => {
    const { body: token } = await managedIdentityToken('https://vault.localhost');
    const latest = await vaultCall(`/secrets/graph-client-credential${VERSION}`, token.access_token);
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ value: 'the-value', attributes: { enabled: true } });
    const version = String(latest.body.id).split('/').pop()!;
    const byVersion = await vaultCall(`/secrets/graph-client-credential/${version}${VERSION}`, token.access_token);
    expect(byVersion.body.value).toBe('the-value');
    expect((await vaultCall(`/secrets/absent${VERSION}`, token.access_token)).body).toMatchObject({
      error: { code: 'SecretNotFound' },
    });
    expect((await vaultCall('/secrets/graph-client-credential', token.access_token)).status).toBe(400);
    // A new version through the control API is what the vault serves from then on.
    const put = await fetch(`${sim.baseUrl}/_sim/secrets/graph-client-credential`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ value: 'rotated', contentType: 'text/plain' }),
    });
    expect(put.status).toBe(204);
    const rotated = await vaultCall(`/secrets/graph-client-credential${VERSION}`, token.access_token);
    expect(rotated.body).toMatchObject({ value: 'rotated', contentType: 'text/plain' });
  });

  it('refuses a token for another resource (401) and an identity without a role on the vault (403)', async () => {
    const { body: graphToken } = await managedIdentityToken('https://graph.microsoft.com');
    const wrongAudience = await vaultCall(`/secrets/graph-client-credential${VERSION}`, graphToken.access_token);
    expect(wrongAudience.status).toBe(401);
    // The app registration itself may get a Key Vault token, but holds no role on this vault.
    const response = await fetch(`${sim.baseUrl}/${sim.tenant.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
        scope: 'https://vault.localhost/.default',
      }),
    });
    const { access_token } = (await response.json()) as { access_token: string };
    const forbidden = await vaultCall(`/secrets/graph-client-credential${VERSION}`, access_token);
    expect(forbidden).toMatchObject({ status: 403, body: { error: { innererror: { code: 'ForbiddenByRbac' } } } });
  });
});
