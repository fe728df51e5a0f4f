import { parseClientPrincipal, PrincipalHeaderError, type Caller } from './principal.js';

/** Anything that reads request headers by name (the Functions HttpRequest's `headers`). */
export interface HeaderReader {
  get(name: string): string | null;
  forEach?(callback: (value: string, name: string) => void): void;
  keys?(): IterableIterator<string>;
}

/**
 * App Service sets WEBSITE_AUTH_ENABLED when its Authentication (Easy Auth) is on: it then validates the caller's
 * token and, having removed whatever the caller sent under those names, passes the claims in
 * `x-ms-client-principal*`. Without it those headers come from the caller and mean nothing. The local host
 * plays the same part for local runs, and sets the same variable.
 */
export function platformAuthenticates(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.WEBSITE_AUTH_ENABLED ?? '').toLowerCase() === 'true';
}

/** Headers only the platform may set: identity, tokens, and the client address it saw. */
const PLATFORM_HEADER = /^(x-ms-client-principal|x-ms-token-)/i;

export type Authentication = { caller: Caller } | { refused: { status: 401 | 400; title: string; errors: string[] } };

/** Who is calling, as the platform vouches for it; or why the request is refused. */
export function authenticate(headers: HeaderReader, env: NodeJS.ProcessEnv = process.env): Authentication {
  if (!platformAuthenticates(env)) {
    const forged = headerNames(headers).filter((name) => PLATFORM_HEADER.test(name));
    if (forged.length)
      return refuse(401, 'Identity headers are set by App Service Authentication only, which is not enabled', [
        `Refused header(s): ${forged.join(', ')}`,
      ]);
    return refuse(401, 'Sign-in is required: App Service Authentication is not enabled for this app', [
      'Turn on App Service Authentication with Entra ID (the deployment does: infra/app/function-app.bicep)',
    ]);
  }
  const header = headers.get('x-ms-client-principal');
  if (!header) return refuse(401, 'Sign-in is required', ['Send an Entra ID access token for the API']);
  try {
    return { caller: parseClientPrincipal(header, clientAddressOf(headers)) };
  } catch (error) {
    if (error instanceof PrincipalHeaderError)
      return refuse(401, 'The signed-in principal is not usable', [error.message]);
    throw error;
  }
}

/**
 * The address the platform saw: App Service's front end sets `x-client-ip`, and appends the peer it saw as the
 * last entry of `x-forwarded-for` (earlier entries are whatever the caller sent). Read only when the platform
 * authenticates, so always the platform's.
 */
function clientAddressOf(headers: HeaderReader): string | null {
  const clientIp = headers.get('x-client-ip')?.trim();
  if (clientIp) return clientIp;
  const forwarded = headers.get('x-forwarded-for');
  return forwarded?.split(',').at(-1)?.trim() || null;
}

function headerNames(headers: HeaderReader): string[] {
  if (headers.keys) return [...headers.keys()];
  const names: string[] = [];
  headers.forEach?.((_value, name) => names.push(name));
  return names;
}

function refuse(status: 401 | 400, title: string, errors: string[]): Authentication {
  return { refused: { status, title, errors } };
}
