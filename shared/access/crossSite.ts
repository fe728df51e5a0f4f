import type { HeaderReader } from './authenticate.js';
import { AccessRefusal } from './refusal.js';

/** Methods that change something: what another site must not make a signed-in browser do. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Browsers sign in to the portal with App Service Authentication's session cookie, which they send with any request
 * to the app, a form posted from another site included. A change is refused when the browser says it came from
 * another site: `Sec-Fetch-Site` (every current browser sends it) other than same-origin or none, or, without it, an
 * `Origin` whose host is not the app's. Clients that are not browsers (the CLI, automation with a bearer token) send
 * neither header and are not affected.
 */
export function refuseCrossSiteChange(method: string, headers: HeaderReader, requestUrl: string): void {
  if (SAFE_METHODS.has(method.toUpperCase())) return;
  const fetchSite = headers.get('sec-fetch-site')?.toLowerCase();
  const origin = headers.get('origin');
  // The browser's own word first; Origin against the request's host only for browsers too old to give it.
  const fromAnotherSite =
    fetchSite !== undefined
      ? fetchSite !== 'same-origin' && fetchSite !== 'none'
      : origin !== null && hostOf(origin) !== new URL(requestUrl).host;
  if (fromAnotherSite)
    throw new AccessRefusal('crossSite', 'A change asked for by another site is refused', [
      `${method} from ${origin ?? `a ${fetchSite} page`}: changes are made from the portal or the API's own clients`,
    ]);
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined; // `null` (a sandboxed frame, a file) is no origin of ours
  }
}
