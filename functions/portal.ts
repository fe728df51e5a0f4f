import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { registerPublicRoute } from './http.js';

/**
 * The web portal's files, built by `npm run build` (vite, portal/vite.config.ts) into dist/portal. Found beside
 * the compiled functions (dist/functions → dist/portal) or, when the app runs from source (tsx), under dist/.
 * Vite's manifest marks a build, so the portal's sources are never served in its place.
 */
const PORTAL_DIRS = [join(import.meta.dirname, '..', 'portal'), join(import.meta.dirname, '..', 'dist', 'portal')];

function portalDir(): string | undefined {
  return PORTAL_DIRS.find((dir) => existsSync(join(dir, '.vite', 'manifest.json')));
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** The page talks to its own origin only: no CDN, no inline script, not framed by another site. */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/**
 * `GET /api/portal/{*path}`: the single-page portal. Its assets (content-hashed names under assets/) are cached
 * for good; any other path is the page itself, which routes in the browser. The files hold no data: everything
 * the page shows comes from the API, under the API's own authentication.
 */
export async function servePortal(request: HttpRequest): Promise<HttpResponseInit> {
  const dir = portalDir();
  if (!dir)
    return {
      status: 503,
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      body: 'The portal is not built: run npm run build (it builds dist/portal).',
    };
  const wanted = normalize(request.params.path ?? '').replace(/^[/\\]+/, '');
  const asset = wanted.startsWith(`assets${sep}`) && !wanted.includes('..') ? join(dir, wanted) : undefined;
  if (asset && existsSync(asset)) {
    return {
      status: 200,
      headers: {
        'Content-Type': CONTENT_TYPES[extname(asset)] ?? 'application/octet-stream',
        'Cache-Control': 'public, max-age=31536000, immutable',
        ...SECURITY_HEADERS,
      },
      body: await readFile(asset),
    };
  }
  if (asset) return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'No such file' };
  return {
    status: 200,
    headers: { 'Content-Type': CONTENT_TYPES['.html']!, 'Cache-Control': 'no-cache', ...SECURITY_HEADERS },
    body: await readFile(join(dir, 'index.html')),
  };
}

registerPublicRoute('portal', 'portal/{*path}', servePortal);
