import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SimHttpError } from './http.js';
import { ALL_ROLES } from './permissions.js';
import type { SimulatorState } from './state.js';

/** The resource Graph tokens are for (their `aud`), whatever the simulator's own URL. */
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';

/** What a bearer token grants, recorded when the simulator issued it. */
export interface TokenGrant {
  readonly expiresAt: number;
  /** The resource the token is for (its `aud`): Graph, or Key Vault. */
  readonly audience: string;
  /** App roles (application permissions) the token carries. */
  readonly roles: ReadonlySet<string>;
  /** The app registration or managed identity it was issued to; none for tokens a test asked for directly. */
  readonly clientId?: string;
  readonly principal: 'application' | 'managedIdentity' | 'test';
}

export interface IssuedToken {
  token: string;
  expiresOnTimestamp: number;
}

/**
 * Issues an access token shaped as Entra ID's: a JWT (RS256) whose claims carry the audience, the app and its
 * roles, so a client can read its roles as it could from a real token. The simulator trusts its own record of
 * the token, not the claims: a revoked token is refused at once.
 */
export function issueAccessToken(
  state: SimulatorState,
  grant: Omit<TokenGrant, 'expiresAt'>,
  lifetimeSeconds = state.settings.tokenLifetimeSeconds,
): IssuedToken {
  const now = Math.floor(Date.now() / 1000);
  const tenantId = state.tenant.tenantId;
  const claims = {
    aud: grant.audience,
    iss: `https://sts.windows.net/${tenantId}/`,
    iat: now,
    nbf: now,
    exp: now + lifetimeSeconds,
    appid: grant.clientId ?? 'simulator-test',
    idtyp: 'app',
    oid: randomUUID(),
    roles: [...grant.roles],
    tid: tenantId,
    uti: randomBytes(16).toString('base64url'),
    ver: '1.0',
  };
  const token = signJwt(claims);
  const expiresOnTimestamp = (now + lifetimeSeconds) * 1000;
  state.issuedTokens.set(token, { ...grant, expiresAt: expiresOnTimestamp });
  return { token, expiresOnTimestamp };
}

/**
 * The grant of the request's bearer token for this resource: 401 as the resource's service answers it when the
 * token is missing, unknown, expired or for another resource.
 */
export function bearerGrant(state: SimulatorState, req: IncomingMessage, resource: string): TokenGrant {
  const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (!match) throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
  const token = match[1]!;
  if (state.staticTokens.has(token)) return state.staticGrant;
  const grant = state.issuedTokens.get(token);
  if (grant === undefined || grant.expiresAt < Date.now())
    throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
  if (grant.audience !== resource)
    throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
  return grant;
}

/** The public half of the signing key, as Entra ID publishes it (jwks_uri). */
export function signingKeySet(): { keys: object[] } {
  const { publicKey, kid } = signingKey();
  return { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' }] };
}

let key: { privateKey: KeyObject; publicKey: KeyObject; kid: string } | undefined;

/** One signing key per process, made on first use (RSA key generation is not free). */
function signingKey(): { privateKey: KeyObject; publicKey: KeyObject; kid: string } {
  if (!key) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    key = { privateKey, publicKey, kid: randomBytes(12).toString('base64url') };
  }
  return key;
}

function signJwt(claims: object): string {
  const { privateKey, kid } = signingKey();
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const signed = `${encode({ typ: 'JWT', alg: 'RS256', kid })}.${encode(claims)}`;
  return `${signed}.${sign('sha256', Buffer.from(signed), privateKey).toString('base64url')}`;
}

/** A Graph token for a test, as the token endpoint would issue one: every role unless told otherwise. */
export function issueTestToken(state: SimulatorState, options: { roles?: readonly string[] } = {}): IssuedToken {
  return issueAccessToken(state, {
    audience: GRAPH_RESOURCE,
    roles: new Set(options.roles ?? ALL_ROLES),
    principal: 'test',
  });
}
