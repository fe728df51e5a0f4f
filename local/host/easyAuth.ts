import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { encodeClientPrincipal } from '../../shared/access/principal.js';
import { ROLES } from '../../shared/access/roles.js';
import { sessionUser, type BrowserSessions } from './easyAuthLogin.js';

/**
 * The local host's stand-in for App Service Authentication (Easy Auth): whatever identity headers a caller sends
 * are removed, a bearer token is validated as Easy Auth validates it (signature by the issuer's keys, issuer,
 * audience, lifetime) and its claims passed on in `x-ms-client-principal`; a browser's session cookie is the user
 * it signed in as at `/.auth/login/aad` (easyAuthLogin.ts); a request with neither is the local operator's when one
 * is signed in, else 401 (Easy Auth's "return 401").
 */
export interface LocalSignIn {
  /** Who a request without a bearer token is; null: nobody (401). */
  operator: LocalOperator | null;
  /** Whose tokens are accepted; none: a bearer token is refused. */
  issuer?: TokenIssuer;
}

export interface LocalOperator {
  oid: string;
  upn: string;
  name: string;
  /** App role values (MailboxVault.Reader, …). */
  roles: string[];
}

export interface TokenIssuer {
  /** The `iss` claim (Entra ID v1 tokens: https://sts.windows.net/{tenant}/). */
  issuer: string;
  /** The API's application id URI, the tokens' `aud`. */
  audience: string;
  /** The issuer's signing keys (its jwks_uri). */
  keys(): Promise<JsonWebKey[]>;
}

/** `npm start`'s signed-in user when nobody else signs in: every role, so the whole product can be tried. */
export const LOCAL_OPERATOR: LocalOperator = {
  oid: '0c0a1000-0000-4000-8000-00000000a11d',
  upn: 'local-operator@mailbox-vault.localhost',
  name: 'Local operator',
  roles: [ROLES.reader, ROLES.operator, ROLES.restorer],
};

/** Headers only the platform sets: a caller's are dropped before the app sees the request. */
const PLATFORM_HEADER = /^(x-ms-client-principal|x-ms-token-|x-client-ip$|x-forwarded-for$)/i;

export type SignInResult = { headers: Record<string, string> } | { status: 401; title: string; errors: string[] };

export async function signIn(
  headers: Record<string, string>,
  clientAddress: string | undefined,
  config: LocalSignIn,
  sessions?: BrowserSessions,
): Promise<SignInResult> {
  const kept = Object.fromEntries(Object.entries(headers).filter(([name]) => !PLATFORM_HEADER.test(name)));
  const platform = (claims: Record<string, string | string[] | undefined>, name: string, id: string) => ({
    headers: {
      ...kept,
      'x-ms-client-principal': encodeClientPrincipal(claims),
      'x-ms-client-principal-id': id,
      'x-ms-client-principal-name': name,
      'x-ms-client-principal-idp': 'aad',
      ...(clientAddress ? { 'x-client-ip': clientAddress } : {}),
    },
  });
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1];
  if (bearer) {
    if (!config.issuer) return unauthorized('Bearer tokens are not accepted: no token issuer is configured');
    const claims = await validToken(bearer, config.issuer);
    if (typeof claims === 'string') return unauthorized(claims);
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : undefined;
    const flat: Record<string, string | string[] | undefined> = {};
    for (const [typ, value] of Object.entries(claims)) if (typeof value === 'string') flat[typ] = value;
    flat.roles = roles;
    const id = text(claims.oid) ?? '';
    return platform(flat, text(claims.upn) ?? text(claims.name) ?? text(claims.appid) ?? id, id);
  }
  const user = (sessions && sessionUser(headers.cookie, sessions)) ?? config.operator;
  if (!user) return unauthorized('Sign-in is required: send an Entra ID access token for the API');
  return platform(
    { oid: user.oid, upn: user.upn, name: user.name, roles: user.roles, idtyp: 'user' },
    user.upn,
    user.oid,
  );
}

function unauthorized(title: string): SignInResult {
  return { status: 401, title, errors: [] };
}

/** The token's claims when it is one the issuer signed for the API and still valid; else why not. */
async function validToken(token: string, issuer: TokenIssuer): Promise<Record<string, unknown> | string> {
  const parts = token.split('.');
  if (parts.length !== 3) return 'The bearer token is not a JWT';
  let header: { alg?: string; kid?: string };
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as typeof header;
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    return 'The bearer token is not a JWT';
  }
  if (header.alg !== 'RS256') return 'The bearer token is not signed with RS256';
  const jwk = (await issuer.keys()).find((k) => (k as { kid?: string }).kid === header.kid);
  if (!jwk) return "The bearer token's signing key is not the issuer's";
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  if (!verify('sha256', signed, createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(parts[2]!, 'base64url')))
    return "The bearer token's signature is not valid";
  const now = Date.now() / 1000;
  if (claims.iss !== issuer.issuer) return 'The bearer token is from another issuer';
  if (claims.aud !== issuer.audience) return 'The bearer token is for another audience';
  if (typeof claims.exp !== 'number' || claims.exp < now - 300) return 'The bearer token has expired';
  if (typeof claims.nbf === 'number' && claims.nbf > now + 300) return 'The bearer token is not valid yet';
  return claims;
}
