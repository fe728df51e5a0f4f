import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { originOf, sendJson } from './http.js';
import type { SimRequest } from './request.js';
import type { SimulatorState } from './state.js';

/**
 * Key Vault's resource in the simulator. A vault host must be a name below it (`*.vault.localhost`), as
 * `*.vault.azure.net` is below `https://vault.azure.net`: @azure/keyvault-secrets checks that before it asks its
 * credential for a token.
 */
export const KEY_VAULT_RESOURCE = 'https://vault.localhost';

export interface StoredSecret {
  value: string;
  contentType?: string;
  version: string;
  created: number;
}

/** Stores a secret (a new version of it), as `az keyvault secret set` would. */
export function setSecret(state: SimulatorState, name: string, value: string, contentType?: string): void {
  const created = Math.floor(Date.now() / 1000);
  const version = randomBytes(16).toString('hex');
  state.secrets.set(name, { value, version, created, ...(contentType ? { contentType } : {}) });
}

/**
 * GET /secrets/{name}[/{version}]?api-version=…, with Key Vault's challenge-based authentication: a request
 * without a token gets a 401 whose WWW-Authenticate names the authority and the resource to ask a token for.
 * Only the managed identity may read (it holds the Key Vault Secrets User role on this vault).
 */
export function getSecret({ state, req, res, url, params }: SimRequest): void {
  if (!url.searchParams.get('api-version'))
    return vaultError(res, 400, 'BadParameter', 'The request URI must contain an api-version query parameter.');
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!token) return challenge(state, res, 'AKV10000: Request is missing a Bearer or PoP token.');
  const grant = state.issuedTokens.get(token);
  if (!grant || grant.expiresAt < Date.now()) return challenge(state, res, 'AKV10032: Invalid issuer or token.');
  if (grant.audience !== KEY_VAULT_RESOURCE)
    return challenge(state, res, `AKV10022: Invalid audience. Expected ${KEY_VAULT_RESOURCE}.`);
  if (grant.principal !== 'managedIdentity')
    return vaultError(
      res,
      403,
      'Forbidden',
      "Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'",
      'ForbiddenByRbac',
    );
  const name = params.name!;
  const secret = state.secrets.get(name);
  if (!secret || (params.version && params.version !== secret.version))
    return vaultError(res, 404, 'SecretNotFound', `A secret with (name/id) ${name} was not found in this key vault.`);
  state.identityLog.push({ kind: 'secretRead', name });
  sendJson(res, 200, {
    value: secret.value,
    ...(secret.contentType ? { contentType: secret.contentType } : {}),
    id: `${originOf(req)}/secrets/${name}/${secret.version}`,
    attributes: {
      enabled: true,
      created: secret.created,
      updated: secret.created,
      recoveryLevel: 'Recoverable+Purgeable',
    },
    tags: {},
  });
}

function challenge(state: SimulatorState, res: ServerResponse, message: string): void {
  const authority = `${state.httpsBaseUrl}/${state.tenant.tenantId}`;
  vaultError(res, 401, 'Unauthorized', message, undefined, {
    'WWW-Authenticate': `Bearer authorization="${authority}", resource="${KEY_VAULT_RESOURCE}"`,
  });
}

function vaultError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  innerCode?: string,
  headers: Record<string, string> = {},
): void {
  sendJson(
    res,
    status,
    { error: { code, message, ...(innerCode ? { innererror: { code: innerCode } } : {}) } },
    headers,
  );
}
