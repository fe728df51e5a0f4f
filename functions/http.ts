import type { HttpHandler, HttpMethod, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import functions from '@azure/functions';
import * as df from 'durable-functions';
import type { z } from 'zod';
import { errorReason, MailboxVaultError } from '../shared/errors.js';
import { GraphRequestError } from '../shared/graph/index.js';
import { getServices } from '../shared/services.js';

/** Largest request body accepted by the API (a restore selection of many item ids fits well under it). */
export const MAX_BODY_BYTES = 1024 * 1024;

export function problem(status: number, title: string, errors: string[] = []): HttpResponseInit {
  return { status, jsonBody: { error: { status, title, errors } } };
}

/**
 * Reads and validates a JSON body. Returns the value, or a 4xx response naming every problem (malformed
 * JSON, too large, unknown fields, wrong types) so that nothing is started on bad input.
 */
export async function readJsonBody<T>(
  request: HttpRequest,
  schema: z.ZodType<T>,
  options: { optional?: boolean } = {},
): Promise<{ value: T } | { response: HttpResponseInit }> {
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES)
    return { response: problem(413, `The request body is larger than ${MAX_BODY_BYTES} bytes`) };
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES)
    return { response: problem(413, `The request body is larger than ${MAX_BODY_BYTES} bytes`) };
  let json: unknown;
  if (text.trim() === '') {
    if (!options.optional) return { response: problem(400, 'A JSON body is required') };
    json = {};
  } else {
    try {
      json = JSON.parse(text);
    } catch (error) {
      return { response: problem(400, 'The request body is not valid JSON', [(error as Error).message]) };
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => {
      const field = issue.path.length ? issue.path.join('.') : '(body)';
      if (issue.code === 'unrecognized_keys')
        return `${field}: unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
      return `${field}: ${issue.message}`;
    });
    return { response: problem(400, 'The request is not valid', errors) };
  }
  return { value: parsed.data };
}

/**
 * A run whose orchestration the Durable client does not know (another process, purged history, or none at
 * all): its report in the vault still answers for it when it finished, else a 404 saying `notFound`.
 */
export async function answerFromReport(id: string, reportBlob: string, notFound: string): Promise<HttpResponseInit> {
  const { vault } = await getServices();
  const report = await vault.readJson<{ status: string }>(reportBlob);
  if (!report) return problem(404, notFound);
  return {
    status: 200,
    jsonBody: { id, runtimeStatus: 'Completed', status: report.status, progress: null, reportBlob, report },
  };
}

/** The `{id}` route parameter when it has the expected shape, else a 400 naming what was expected. */
export function idParam(
  request: HttpRequest,
  pattern: RegExp,
  noun: string,
  example: string,
): { id: string } | { response: HttpResponseInit } {
  const id = request.params.id ?? '';
  if (pattern.test(id)) return { id };
  return {
    response: problem(400, `The ${noun} id is not valid`, [
      `id: expected a ${noun} id such as ${example}, got '${id.slice(0, 80)}'`,
    ]),
  };
}

/** 202 for work started: where to follow it, and what else the caller should know. */
export function accepted(
  request: HttpRequest,
  route: string,
  id: string,
  extra: Record<string, unknown> = {},
): HttpResponseInit {
  const statusUrl = `${originOf(request)}/api/${route}/${id}`;
  return { status: 202, headers: { Location: statusUrl }, jsonBody: { id, statusUrl, ...extra } };
}

/** The public origin of a request, for the status URLs we hand back. */
export function originOf(request: HttpRequest): string {
  return new URL(request.url).origin;
}

/**
 * Failures of Graph that reach an API call. The caller is not at fault, so never a 4xx, and the answer says what
 * happened rather than a bare 500: Graph gave no mailbox id, refused the app the mailbox or the user's settings,
 * or stayed throttled.
 */
const UPSTREAM_FAILURE_STATUS: Record<string, number> = {
  MailboxIdMissing: 502,
  MailboxAccessDenied: 502,
  RetriesExhausted: 503,
};

function upstreamFailureStatus(error: unknown): number | undefined {
  if (!(error instanceof MailboxVaultError)) return undefined;
  // Any other answer of Graph's that a route could not use (a 400 or 403 for one user's settings) is upstream too.
  return UPSTREAM_FAILURE_STATUS[error.code] ?? (error instanceof GraphRequestError ? 502 : undefined);
}

function answeringUpstreamFailures<Args extends unknown[]>(
  handler: (...args: Args) => Promise<HttpResponseInit>,
): (...args: Args) => Promise<HttpResponseInit> {
  return async (...args) => {
    try {
      return await handler(...args);
    } catch (error) {
      const status = upstreamFailureStatus(error);
      if (status === undefined) throw error;
      return problem(status, 'Microsoft Graph did not answer as needed', [errorReason(error)]);
    }
  };
}

/**
 * An API route: every route of the app is registered here, so how callers are authenticated, and how Graph's
 * failures are answered, is decided in one place (a function key today). Routes that start or query
 * orchestrations get the Durable client.
 */
export function registerApiRoute(name: string, method: HttpMethod, route: string, handler: HttpHandler): void {
  // @azure/functions is CommonJS: Node's ESM loader reaches `app` through the default export.
  const answering = answeringUpstreamFailures(
    handler as (...args: Parameters<HttpHandler>) => Promise<HttpResponseInit>,
  );
  functions.app.http(name, { route, methods: [method], authLevel: 'function', handler: answering });
}

export function registerDurableApiRoute(
  name: string,
  method: HttpMethod,
  route: string,
  handler: (request: HttpRequest, client: df.DurableClient, context: InvocationContext) => Promise<HttpResponseInit>,
): void {
  df.app.client.http(name, {
    route,
    methods: [method],
    authLevel: 'function',
    handler: answeringUpstreamFailures(handler),
  });
}

/**
 * A route anyone may load: only for the portal's static files, which hold no data (the API behind them keeps its
 * own authentication). GET only.
 */
export function registerPublicRoute(name: string, route: string, handler: HttpHandler): void {
  functions.app.http(name, { route, methods: ['GET'], authLevel: 'anonymous', handler });
}
