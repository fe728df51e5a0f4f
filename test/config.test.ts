import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, SETTINGS } from '../shared/config.js';

const azurite = { MAILBOX_VAULT_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const config = loadConfig({ MAILBOX_VAULT_STORAGE_ACCOUNT_URL: 'https://vault.blob.core.windows.net' });
    expect(config.graph).toMatchObject({
      baseUrl: 'https://graph.microsoft.com',
      apiVersion: 'v1.0',
      credential: { kind: 'managedIdentity' },
      maxConcurrentRequestsPerMailbox: 4,
    });
    expect(config.storage.containerName).toBe(SETTINGS.MAILBOX_VAULT_CONTAINER.default);
    expect(config.taskHub).toBe('mailboxvault');
  });

  it('names every bad setting at once', () => {
    const found = problems({
      MAILBOX_VAULT_GRAPH_MAX_CONCURRENCY: '9',
      MAILBOX_VAULT_GRAPH_API_VERSION: 'v2',
      MAILBOX_VAULT_CONTAINER: 'Bad_Name',
    });
    expect(found.join('\n')).toMatch(/MAILBOX_VAULT_GRAPH_MAX_CONCURRENCY/);
    expect(found.join('\n')).toMatch(/MAILBOX_VAULT_GRAPH_API_VERSION/);
    expect(found.join('\n')).toMatch(/MAILBOX_VAULT_CONTAINER/);
  });

  it('requires a storage target, and only one', () => {
    expect(problems({})).toEqual([expect.stringMatching(/^MAILBOX_VAULT_STORAGE_ACCOUNT_URL: required/)]);
    expect(problems({ ...azurite, MAILBOX_VAULT_STORAGE_ACCOUNT_URL: 'https://x.blob.core.windows.net' })).toEqual([
      expect.stringMatching(/not both/),
    ]);
  });

  it('requires tenant, client and vault for Key Vault credentials', () => {
    const found = problems({ ...azurite, MAILBOX_VAULT_GRAPH_CREDENTIAL: 'clientCertificate' });
    expect(found).toEqual([
      expect.stringMatching(/^MAILBOX_VAULT_TENANT_ID/),
      expect.stringMatching(/^MAILBOX_VAULT_CLIENT_ID/),
      expect.stringMatching(/^MAILBOX_VAULT_KEY_VAULT_URL/),
    ]);
    const config = loadConfig({
      ...azurite,
      MAILBOX_VAULT_GRAPH_CREDENTIAL: 'clientSecret',
      MAILBOX_VAULT_TENANT_ID: 't',
      MAILBOX_VAULT_CLIENT_ID: 'c',
      MAILBOX_VAULT_KEY_VAULT_URL: 'https://kv.vault.azure.net',
    });
    expect(config.graph.credential).toMatchObject({ kind: 'clientSecret', secretName: 'graph-client-credential' });
  });

  it('signs the app registration in at the global cloud unless an authority host says otherwise', () => {
    const keyVaultCredential = {
      ...azurite,
      MAILBOX_VAULT_GRAPH_CREDENTIAL: 'clientCertificate',
      MAILBOX_VAULT_TENANT_ID: 't',
      MAILBOX_VAULT_CLIENT_ID: 'c',
      MAILBOX_VAULT_KEY_VAULT_URL: 'https://kv.vault.usgovcloudapi.net',
    };
    expect(loadConfig(keyVaultCredential).graph.credential).toMatchObject({
      authorityHost: 'https://login.microsoftonline.com',
    });
    // Bicep's environment().authentication.loginEndpoint ends with a slash.
    const usGov = { ...keyVaultCredential, MAILBOX_VAULT_AUTHORITY_HOST: 'https://login.microsoftonline.us/' };
    expect(loadConfig(usGov).graph.credential).toMatchObject({ authorityHost: 'https://login.microsoftonline.us' });
    for (const bad of [
      'http://login.microsoftonline.us',
      'https://login.microsoftonline.us/tenant',
      'login.microsoftonline.us',
    ])
      expect(problems({ ...keyVaultCredential, MAILBOX_VAULT_AUTHORITY_HOST: bad })).toEqual([
        expect.stringMatching(/^MAILBOX_VAULT_AUTHORITY_HOST: must be the https origin of an Entra ID authority/),
      ]);
  });

  it('refuses a static token against Microsoft Graph', () => {
    expect(
      problems({
        ...azurite,
        MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
        MAILBOX_VAULT_GRAPH_STATIC_TOKEN: 'x',
      }).join(),
    ).toMatch(/simulator only/);
    const config = loadConfig({
      ...azurite,
      MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
      MAILBOX_VAULT_GRAPH_STATIC_TOKEN: 'x',
      MAILBOX_VAULT_GRAPH_BASE_URL: 'http://127.0.0.1:7400',
    });
    expect(config.graph.credential).toEqual({ kind: 'staticToken', token: 'x' });
  });

  it('refuses plain http to anything but loopback', () => {
    expect(problems({ ...azurite, MAILBOX_VAULT_GRAPH_BASE_URL: 'http://graph.example.com' }).join()).toMatch(
      /MAILBOX_VAULT_GRAPH_BASE_URL/,
    );
  });
});
