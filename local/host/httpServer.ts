import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import functions, { type HttpResponseInit, type HttpResponse as HttpResponseType } from '@azure/functions';
import type { DurableHost } from './durableHost.js';
import { signIn, type LocalSignIn } from './easyAuth.js';
import { newBrowserSessions, serveAuthRoute, type BrowserSessions } from './easyAuthLogin.js';
import { matchRoute, type HttpRoute } from './httpRoutes.js';

// @azure/functions is CommonJS: Node's ESM loader offers its classes through the default export only.
const { HttpResponse } = functions;

/**
 * An HTTP server that hands each request to the HTTP trigger whose route matches it, as the Functions host does,
 * after signing the caller in as App Service Authentication would (easyAuth.ts).
 */
export function createHttpTriggerServer(
  host: DurableHost,
  routes: HttpRoute[],
  auth: LocalSignIn,
  options: { loopbackOnly: boolean } = { loopbackOnly: true },
): Server {
  const sessions = newBrowserSessions();
  return createServer((req, res) => {
    if (options.loopbackOnly && !isLoopbackName(req.headers.host)) return void misdirected(res, req.headers.host);
    void serve(host, routes, auth, sessions, req, res);
  });
}

/**
 * Whether the request names this machine. A request without a token is the local operator's, with every role: a
 * web page whose name the attacker re-points at 127.0.0.1 (DNS rebinding) would reach the app as a page of its own
 * origin, and its requests carry that name in `Host`.
 */
function isLoopbackName(hostHeader: string | undefined): boolean {
  let hostname: string;
  try {
    hostname = new URL(`http://${hostHeader ?? ''}`).hostname;
  } catch {
    return false;
  }
  return isLoopbackHostname(hostname);
}

/** `localhost`, `127.x.y.z` or `::1` (bracketed as in a URL, or bare as a listening address). */
export function isLoopbackHostname(hostname: string): boolean {
  return ['localhost', '[::1]', '::1'].includes(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function misdirected(res: ServerResponse, hostHeader: string | undefined): void {
  writeJson(res, 421, {
    error: {
      status: 421,
      title: 'The local app answers requests for this machine only',
      errors: [`Host: '${hostHeader ?? ''}' is not localhost or a loopback address`],
    },
  });
}

async function serve(
  host: DurableHost,
  routes: HttpRoute[],
  auth: LocalSignIn,
  sessions: BrowserSessions,
  req: IncomingMessage,
  res: ServerResponse,
) {
  try {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
    // App Service Authentication's own paths come before the app's routes, as in Azure.
    if (url.pathname.startsWith('/.auth/') && (await serveAuthRoute(req, res, url, sessions))) return;
    const method = (req.method ?? 'GET').toUpperCase();
    const match = matchRoute(routes, method, url.pathname);
    if (!match.route) return writeJson(res, match.status, { error: { status: match.status, title: match.title } });
    const signedIn = await signIn(flatHeaders(req), req.socket.remoteAddress, auth, sessions);
    if ('status' in signedIn) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return writeJson(res, 401, { error: { status: 401, title: signedIn.title, errors: signedIn.errors } });
    }
    const result = await host.invokeHttp(match.route.name, {
      method,
      url: url.toString(),
      headers: signedIn.headers,
      params: match.params,
      body: await readBody(req),
    });
    await writeResponse(res, result);
  } catch (error) {
    if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({ error: { status: 500, title: 'The function failed', errors: [(error as Error).message] } }),
    );
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(req.headers).flatMap(([k, v]) =>
      v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]],
    ),
  );
}

async function writeResponse(res: ServerResponse, result: HttpResponseInit | HttpResponseType | undefined) {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? { status: 204 });
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => (headers[key] = value));
  res.writeHead(response.status, headers);
  // Streamed as the app produces it (the app enables HTTP streams), so a large download is never held whole.
  if (response.body) {
    try {
      await pipeline(Readable.fromWeb(response.body as never), res);
    } catch {
      res.destroy();
    }
  } else res.end();
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}
