import { constants, verify } from 'node:crypto';
import type { RegisteredApp } from './apps.js';
import { EntraError } from './entraErrors.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Entra ID tolerates this much clock difference on an assertion's nbf and exp. */
const CLOCK_SKEW_MS = 5 * 60_000;

interface AssertionHeader {
  alg?: string;
  x5t?: string;
  'x5t#S256'?: string;
}

interface AssertionClaims {
  aud?: string;
  iss?: string;
  sub?: string;
  exp?: number;
  nbf?: number;
}

/**
 * Checks a client assertion (RFC 7523) as Entra ID does for certificate credentials: signed (RS256 or PS256) by
 * the key of a certificate registered on the app, named by its thumbprint (`x5t` or `x5t#S256`); issued by and
 * about the app (`iss` = `sub` = client id); for this token endpoint (`aud`); and valid now.
 */
export function verifyClientAssertion(
  assertion: string,
  app: RegisteredApp,
  audiences: readonly string[],
  now = Date.now(),
): void {
  const { header, claims, signed, signature } = parse(assertion);
  const thumbprint = thumbprintOf(header);
  const certificate = thumbprint === undefined ? undefined : app.certificatesByThumbprint.get(thumbprint);
  if (!certificate)
    throw invalidClient(
      700027,
      `The certificate with identifier used to sign the client assertion is not registered on application. ` +
        `[Reason - The key was not found., Thumbprint of key used by client: '${thumbprint ?? ''}']`,
    );
  const padding = header.alg === 'PS256' ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
  const key = { key: certificate.publicKey, padding, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
  if (!verify('sha256', Buffer.from(signed), key, signature))
    throw invalidClient(700027, 'Client assertion failed signature validation.');
  if (claims.iss !== app.clientId || claims.sub !== app.clientId)
    throw invalidClient(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
  if (typeof claims.aud !== 'string' || !audiences.includes(claims.aud))
    throw invalidClient(
      50027,
      `JWT token is invalid or malformed: audience '${claims.aud}' is not this token endpoint.`,
    );
  const tooLate = typeof claims.exp !== 'number' || claims.exp * 1000 < now - CLOCK_SKEW_MS;
  const tooEarly = typeof claims.nbf === 'number' && claims.nbf * 1000 > now + CLOCK_SKEW_MS;
  if (tooLate || tooEarly)
    throw invalidClient(
      700024,
      `Client assertion is not within its valid time range. Current time: ${new Date(now).toISOString()}, ` +
        `assertion valid from ${isoOf(claims.nbf)}, expiry time of assertion ${isoOf(claims.exp)}.`,
    );
}

function parse(assertion: string) {
  const parts = assertion.split('.');
  try {
    if (parts.length !== 3) throw new Error('not three parts');
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as AssertionHeader;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as AssertionClaims;
    if (header.alg !== 'RS256' && header.alg !== 'PS256') throw new Error(`algorithm ${header.alg}`);
    return { header, claims, signed: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
  } catch (error) {
    throw invalidClient(50027, `JWT token is invalid or malformed (${(error as Error).message}).`);
  }
}

/** The thumbprint the header names, as hex: SHA-256 (`x5t#S256`, what MSAL sends today) or SHA-1 (`x5t`). */
function thumbprintOf(header: AssertionHeader): string | undefined {
  const encoded = header['x5t#S256'] ?? header.x5t;
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64url').toString('hex').toUpperCase();
}

function isoOf(seconds: number | undefined): string {
  return typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : '(none)';
}

function invalidClient(aadsts: number, description: string): EntraError {
  return new EntraError(401, 'invalid_client', aadsts, description);
}
