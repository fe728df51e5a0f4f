import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { ODataQueryError } from './odata.js';

/** An answer in Graph's error shape: status, code, message and, for throttling, Retry-After. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** The connection was closed on purpose (a fault): there is no answer to send. */
export class DroppedConnection extends Error {}

export async function readSmallBody(req: IncomingMessage, limit = 1024 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new SimHttpError(413, 'RequestEntityTooLarge', 'The request body is too large');
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A small JSON request body; anything unparseable (a too-large body included) is a 400. */
export async function readJsonBody<T>(req: IncomingMessage): Promise<T> {
  try {
    return JSON.parse(await readSmallBody(req)) as T;
  } catch {
    throw new SimHttpError(400, 'BadRequest', 'The request body is not valid JSON.');
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendGraphError(res: ServerResponse, error: SimHttpError): void {
  const headers: Record<string, string> = { 'request-id': randomBytes(8).toString('hex') };
  if (error.retryAfterSeconds !== undefined) headers['Retry-After'] = String(error.retryAfterSeconds);
  sendJson(
    res,
    error.status,
    {
      error: {
        code: error.code,
        message: error.message,
        innerError: { 'request-id': headers['request-id'], date: new Date().toISOString() },
      },
    },
    headers,
  );
}

/** What a request that failed gets: nothing if its connection is gone, else a Graph error (500 if unexpected). */
export function sendFailure(res: ServerResponse, error: unknown): void {
  if (error instanceof DroppedConnection || res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof SimHttpError) sendGraphError(res, error);
  else if (error instanceof ODataQueryError) sendGraphError(res, new SimHttpError(400, 'BadRequest', error.message));
  else sendGraphError(res, new SimHttpError(500, 'InternalServerError', (error as Error).message));
}

/** Resolves when the response can take more data, or is closed. */
export function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** The origin the client addressed: the simulator answers on loopback under several names, over HTTP or HTTPS. */
export function originOf(req: IncomingMessage): string {
  const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  return `${scheme}://${req.headers.host ?? 'localhost'}`;
}
