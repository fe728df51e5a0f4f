import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SimHttpError } from './http.js';
import { ALL_ROLES } from './permissions.js';
import type { SimulatorState } from './state.js';

/** The resource Graph tokens are for (their `aud`), whatever the simulator's own URL. */
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';

/**
 * The mailbox-vault API as a resource of the simulated tenant (its app registration's application id URI): tokens
 * for it carry the API's app roles (MailboxVault.Reader, …), and the local host accepts them as Easy Auth would.
 */
export const MAILBOX_VAULT_API_RESOURCE = 'api://mailbox-vault';

/** A stable object id for a name (a UPN, a client id): the simulated directory keeps no ids for them. */
export function objectIdOf(name: string): string {
  const hex = createHash('sha256').update(name.toLowerCase()).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** What a bearer token grants, recorded when the simulator issued it. */
export interface TokenGrant {
  readonly expiresAt: number;
  /** The resource the token is for (its `aud`): Graph, or Key Vault. */
  readonly audience: string;
  /** App roles (application permissions) the token carries. */
  readonly roles: ReadonlySet<string>;
  /** The app registration or managed identity it was issued to; none for tokens a test asked for directly. */
  readonly clientId?: string;
  readonly principal: 'application' | 'managedIdentity' | 'test' | 'user';
  /** A user's token (delegated, as an interactive sign-in gets): who it is for. */
  readonly user?: { upn: string; name: string };
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
  const user = grant.user;
  const claims = {
    aud: grant.audience,
    iss: `https://sts.windows.net/${tenantId}/`,
    iat: now,
    nbf: now,
    exp: now + lifetimeSeconds,
    appid: grant.clientId ?? 'simulator-test',
    idtyp: user ? 'user' : 'app',
    // Stable per app or user, as Entra's object ids are; a test's token without either gets a fresh one.
    oid: user ? objectIdOf(user.upn) : grant.clientId ? objectIdOf(grant.clientId) : randomUUID(),
    ...(user ? { upn: user.upn, name: user.name } : {}),
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

/**
 * A token for the mailbox-vault API, as Entra ID would issue one to a signed-in user (with `user`) or to an app
 * (client credentials); `roles` are the API's app roles assigned to them.
 */
export function issueApiToken(
  state: SimulatorState,
  options: { user?: string; clientId?: string; roles?: readonly string[] } = {},
): IssuedToken {
  const user = options.user ? { upn: options.user, name: options.user.split('@')[0]! } : undefined;
  return issueAccessToken(state, {
    audience: MAILBOX_VAULT_API_RESOURCE,
    roles: new Set(options.roles ?? []),
    principal: user ? 'user' : 'application',
    ...(options.clientId ? { clientId: options.clientId } : {}),
    ...(user ? { user } : {}),
  });
}
