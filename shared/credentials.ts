import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import { SecretClient, type SecretClientOptions } from '@azure/keyvault-secrets';
import { BlobServiceClient } from '@azure/storage-blob';
import type { GraphConfig, StorageConfig } from './config.js';
import { MailboxVaultError } from './errors.js';

/** A fixed bearer token: the simulator's demo token. Config refuses it for Microsoft Graph. */
export class StaticTokenCredential implements TokenCredential {
  readonly #token: string;

  constructor(token: string) {
    this.#token = token;
  }

  async getToken(): Promise<AccessToken> {
    return { token: this.#token, expiresOnTimestamp: Date.now() + 24 * 3600_000 };
  }

  toJSON(): string {
    return 'StaticTokenCredential';
  }
}

export interface CredentialDependencies {
  /** The app's own identity; a ManagedIdentityCredential when absent. Tests pass a stand-in. */
  managedIdentity?: TokenCredential;
  /** For tests: a Key Vault client pipeline that answers at the HTTP layer. */
  keyVaultClientOptions?: SecretClientOptions;
}

export class CredentialError extends MailboxVaultError {
  readonly code = 'CredentialUnavailable';
}

function managedIdentity(clientId: string | undefined, deps: CredentialDependencies): TokenCredential {
  if (deps.managedIdentity) return deps.managedIdentity;
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

/** Reads a secret with the app's managed identity; errors name the vault and secret, never the value. */
async function readSecret(
  vaultUrl: string,
  name: string,
  identity: TokenCredential,
  options?: SecretClientOptions,
): Promise<string> {
  const client = new SecretClient(vaultUrl, identity, options);
  try {
    const secret = await client.getSecret(name);
    if (!secret.value) throw new CredentialError(`Key Vault secret '${name}' in ${vaultUrl} is empty`);
    return secret.value;
  } catch (error) {
    if (error instanceof CredentialError) throw error;
    const status = (error as { statusCode?: number }).statusCode;
    const hint =
      status === 403
        ? " (the app's identity needs the Key Vault Secrets User role)"
        : status === 404
          ? ' (no such secret)'
          : '';
    throw new CredentialError(
      `Could not read Key Vault secret '${name}' from ${vaultUrl}: ${status ?? ''} ${(error as Error).message}${hint}`.replace(
        /\s+/g,
        ' ',
      ),
      { cause: error },
    );
  }
}

/**
 * The Graph credential the configuration asks for: the app's managed identity (default in Azure), an app
 * registration's client secret or certificate kept in Key Vault (for a tenant the app's identity is not in),
 * or the simulator's static token. The Key Vault secret is read once, with the managed identity.
 */
export async function createGraphCredential(
  config: GraphConfig['credential'],
  deps: CredentialDependencies = {},
): Promise<TokenCredential> {
  switch (config.kind) {
    case 'managedIdentity':
      return managedIdentity(config.managedIdentityClientId, deps);
    case 'staticToken':
      return new StaticTokenCredential(config.token);
    case 'clientSecret': {
      const secret = await readSecret(
        config.keyVaultUrl,
        config.secretName,
        managedIdentity(config.managedIdentityClientId, deps),
        deps.keyVaultClientOptions,
      );
      return new ClientSecretCredential(
        config.tenantId,
        config.clientId,
        secret,
        authorityOptions(config.authorityHost),
      );
    }
    case 'clientCertificate': {
      const pem = await readSecret(
        config.keyVaultUrl,
        config.secretName,
        managedIdentity(config.managedIdentityClientId, deps),
        deps.keyVaultClientOptions,
      );
      if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem) || !/-----BEGIN CERTIFICATE-----/.test(pem)) {
        throw new CredentialError(
          `Key Vault secret '${config.secretName}' must hold a PEM certificate with its private key (create the Key Vault certificate with content type application/x-pem-file)`,
        );
      }
      return new ClientCertificateCredential(
        config.tenantId,
        config.clientId,
        { certificate: pem },
        authorityOptions(config.authorityHost),
      );
    }
  }
}

/** Entra ID's hosts in Microsoft's clouds: MSAL knows them, so it validates such an authority without a call. */
const MICROSOFT_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoft.com',
  'login.windows.net',
  'sts.windows.net',
  'login.microsoftonline.us',
  'login.usgovcloudapi.net',
  'login-us.microsoftonline.com',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);

/**
 * The authority the app registration signs in at. Another host (Azure Stack Hub, AD FS, the simulator) cannot be
 * validated by Microsoft's instance discovery, which MSAL would ask at login.microsoftonline.com: it is used as
 * configured, which is what instance discovery being off means.
 */
function authorityOptions(authorityHost: string | undefined) {
  if (!authorityHost) return {};
  return {
    authorityHost,
    disableInstanceDiscovery: !MICROSOFT_AUTHORITY_HOSTS.has(new URL(authorityHost).hostname),
  };
}

/** The vault's blob service: managed identity in Azure, a connection string for Azurite. */
export function createBlobServiceClient(config: StorageConfig, deps: CredentialDependencies = {}): BlobServiceClient {
  if (config.connectionString) return BlobServiceClient.fromConnectionString(config.connectionString);
  if (!config.accountUrl) throw new CredentialError('No storage account configured');
  return new BlobServiceClient(config.accountUrl, managedIdentity(config.managedIdentityClientId, deps));
}
