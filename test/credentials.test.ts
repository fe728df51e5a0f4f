import { describe, expect, it } from 'vitest';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import { ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import {
  createBlobServiceClient,
  createGraphCredential,
  CredentialError,
  StaticTokenCredential,
} from '../shared/credentials.js';
import { createClientCertificate } from '../local/simulator/localCa.js';

const VAULT = 'https://mv-test.vault.azure.net';
const SECRET_VALUE = 'super-secret-client-secret-value';
// A throwaway self-signed certificate and key, made for this run (no private key is kept in the repository).
const generated = createClientCertificate('mv-test');
const PEM = `${generated.privateKeyPem}${generated.certificatePem}`;

/** The managed identity's stand-in: hands out a known token for the Key Vault scope. */
class FakeManagedIdentity implements TokenCredential {
  scopes: string[] = [];
  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return { token: 'mi-token-for-kv', expiresOnTimestamp: Date.now() + 3600_000 };
  }
}

/**
 * Key Vault's REST API at the HTTP layer, as the service answers it: a 401 challenge for the first,
 * unauthenticated request, then the secret bundle for a request bearing the right token.
 */
function keyVaultStandIn(
  secrets: Record<string, { value: string; contentType?: string }>,
  seen: PipelineRequest[],
): HttpClient {
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      seen.push(request);
      const url = new URL(request.url);
      const respond = (status: number, body: unknown, headers: Record<string, string> = {}): PipelineResponse => ({
        request,
        status,
        headers: createHttpHeaders({ 'content-type': 'application/json', ...headers }),
        bodyAsText: JSON.stringify(body),
      });
      if (!url.searchParams.get('api-version'))
        return respond(400, { error: { code: 'BadParameter', message: 'api-version missing' } });
      const auth = request.headers.get('authorization');
      if (!auth) {
        return respond(
          401,
          { error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' } },
          {
            'www-authenticate':
              'Bearer authorization="https://login.microsoftonline.com/72f988bf-0000-0000-0000-2d7cd011db47", resource="https://vault.azure.net"',
          },
        );
      }
      if (auth !== 'Bearer mi-token-for-kv')
        return respond(401, { error: { code: 'Unauthorized', message: 'bad token' } });
      const match = /^\/secrets\/([^/]+)\/?$/.exec(url.pathname);
      const secret = match ? secrets[match[1]!] : undefined;
      if (!secret)
        return respond(404, {
          error: {
            code: 'SecretNotFound',
            message: `A secret with (name/id) ${match?.[1]} was not found in this key vault.`,
          },
        });
      return respond(200, {
        value: secret.value,
        contentType: secret.contentType,
        id: `${VAULT}/secrets/${match![1]}/0123456789abcdef`,
        attributes: { enabled: true },
      });
    },
  };
}

describe('Graph credential selection', () => {
  it('uses the managed identity by default, user-assigned when a client id is given', async () => {
    expect(await createGraphCredential({ kind: 'managedIdentity' })).toBeInstanceOf(ManagedIdentityCredential);
    expect(
      await createGraphCredential({
        kind: 'managedIdentity',
        managedIdentityClientId: '00000000-0000-0000-0000-000000000001',
      }),
    ).toBeInstanceOf(ManagedIdentityCredential);
  });

  it('gives the simulator token as a credential that does not print it', async () => {
    const credential = await createGraphCredential({ kind: 'staticToken', token: 'sim-token' });
    expect(credential).toBeInstanceOf(StaticTokenCredential);
    expect((await credential.getToken('https://graph.microsoft.com/.default'))?.token).toBe('sim-token');
    expect(JSON.stringify(credential)).not.toContain('sim-token');
  });

  it('reads a client secret from Key Vault with the managed identity', async () => {
    const seen: PipelineRequest[] = [];
    const identity = new FakeManagedIdentity();
    const credential = await createGraphCredential(
      {
        kind: 'clientSecret',
        tenantId: 'contoso.onmicrosoft.com',
        clientId: 'app-id',
        keyVaultUrl: VAULT,
        secretName: 'graph-client-credential',
      },
      {
        managedIdentity: identity,
        keyVaultClientOptions: {
          httpClient: keyVaultStandIn({ 'graph-client-credential': { value: SECRET_VALUE } }, seen),
        },
      },
    );
    expect(credential).toBeInstanceOf(ClientSecretCredential);
    expect(identity.scopes).toContain('https://vault.azure.net/.default');
    expect(seen.map((r) => new URL(r.url).pathname)).toEqual([
      '/secrets/graph-client-credential/',
      '/secrets/graph-client-credential/',
    ]);
    expect(seen.at(-1)!.headers.get('authorization')).toBe('Bearer mi-token-for-kv');
  });

  it('reads a PEM certificate from Key Vault, and refuses a secret that is not one', async () => {
    const identity = new FakeManagedIdentity();
    const config = {
      kind: 'clientCertificate' as const,
      tenantId: 't',
      clientId: 'c',
      keyVaultUrl: VAULT,
      secretName: 'graph-cert',
    };
    const good = await createGraphCredential(config, {
      managedIdentity: identity,
      keyVaultClientOptions: {
        httpClient: keyVaultStandIn({ 'graph-cert': { value: PEM, contentType: 'application/x-pem-file' } }, []),
      },
    });
    expect(good).toBeInstanceOf(ClientCertificateCredential);
    await expect(
      createGraphCredential(config, {
        managedIdentity: identity,
        keyVaultClientOptions: { httpClient: keyVaultStandIn({ 'graph-cert': { value: 'MIIKpAIBAzCCCm4=' } }, []) },
      }),
    ).rejects.toThrow(/PEM certificate with its private key/);
  });

  it('explains a missing secret without echoing any secret value', async () => {
    const error = await createGraphCredential(
      { kind: 'clientSecret', tenantId: 't', clientId: 'c', keyVaultUrl: VAULT, secretName: 'absent' },
      {
        managedIdentity: new FakeManagedIdentity(),
        keyVaultClientOptions: { httpClient: keyVaultStandIn({ other: { value: SECRET_VALUE } }, []) },
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialError);
    expect(String((error as Error).message)).toMatch(/'absent'.*mv-test\.vault\.azure\.net.*no such secret/);
    expect(String((error as Error).message)).not.toContain(SECRET_VALUE);
  });
});

describe('storage client', () => {
  it('uses a connection string for Azurite and the managed identity for an account URL', () => {
    const local = createBlobServiceClient({ connectionString: 'UseDevelopmentStorage=true', containerName: 'v' });
    expect(local.url).toMatch(/^http:\/\/127\.0\.0\.1:10000\/devstoreaccount1/);
    const identity = new FakeManagedIdentity();
    const azure = createBlobServiceClient(
      { accountUrl: 'https://vaultacct.blob.core.windows.net', containerName: 'v' },
      { managedIdentity: identity },
    );
    expect(azure).toBeInstanceOf(BlobServiceClient);
    expect(azure.credential).toBe(identity);
  });
});
