import { get } from 'node:https';
import type { JsonWebKey } from 'node:crypto';
import type { TokenIssuer } from './host/easyAuth.js';

/**
 * An Entra ID tenant as a token issuer for the local host, found as Easy Auth finds it: the OpenID configuration
 * of `{authorityHost}/{tenant}/v2.0`, then its jwks_uri. The keys are read once and again when a token names a
 * key not yet seen (Entra rolls its keys). `ca` trusts the simulator's local CA.
 */
export function entraIssuer(options: {
  authorityHost: string;
  tenantId: string;
  audience: string;
  ca?: string;
}): TokenIssuer {
  let keys: Promise<JsonWebKey[]> | undefined;
  const load = async () => {
    const configuration = await getJson<{ jwks_uri: string }>(
      `${options.authorityHost}/${options.tenantId}/v2.0/.well-known/openid-configuration`,
      options.ca,
    );
    return (await getJson<{ keys: JsonWebKey[] }>(configuration.jwks_uri, options.ca)).keys;
  };
  return {
    // Access tokens for an API registered as v1 (accessTokenAcceptedVersion unset) carry the v1 issuer.
    issuer: `https://sts.windows.net/${options.tenantId}/`,
    audience: options.audience,
    keys: () => {
      keys ??= load().catch((error: unknown) => {
        keys = undefined;
        throw error;
      });
      return keys;
    },
  };
}

function getJson<T>(url: string, ca: string | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    get(url, ca ? { ca } : {}, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 400) reject(new Error(`${url} answered ${res.statusCode}`));
        else resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
      });
      res.on('error', reject);
    }).on('error', reject);
  });
}
