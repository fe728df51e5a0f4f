import type { HttpHandler, HttpMethod, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import functions from '@azure/functions';
import * as df from 'durable-functions';
import type { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { authenticate } from '../shared/access/authenticate.js';
import { refuseCrossSiteChange } from '../shared/access/crossSite.js';
import type { Authorization } from '../shared/access/policy.js';
import { AccessRefusal } from '../shared/access/refusal.js';
import { grants, ROLES, type Role } from '../shared/access/roles.js';
import { auditEvent, type AuditAction, type AuditDetails, type AuditRecord } from '../shared/audit/record.js';
import { errorReason, MailboxVaultError } from '../shared/errors.js';
import { ARTIFACTS_MINIMUM_DAYS, startOfWork } from '../shared/maintenance/artifacts.js';
import { formatTelemetry } from '../shared/telemetry.js';
import { GraphRequestError } from '../shared/graph/index.js';
import { getServices } from '../shared/services.js';

/** Largest request body accepted by the API (a restore selection of many item ids fits well under it). */
export const MAX_BODY_BYTES = 1024 * 1024;

export function problem(status: number, title: string, errors: string[] = []): HttpResponseInit {
  return { status, jsonBody: { error: { status, title, errors } } };
}

/**
 * A restore or download whose request passed its start deadline before its orchestration could be started: its
 * request is withdrawn and nothing starts, as a prune may already take it for abandoned (expiringSnapshots.ts).
 */
export function notStartedInTime(reader: 'restore' | 'download'): HttpResponseInit {
  return problem(503, `The ${reader} was not started in time`, [
    `starting the ${reader} took longer than its start deadline, so nothing was started; ask again`,
  ]);
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
 * all): its report in the vault still answers for it when it finished, else `notInVault`.
 */
export async function answerFromReport(id: string, reportBlob: string, noun: string): Promise<HttpResponseInit> {
  const { vault } = await getServices();
  const report = await vault.readJson<{ status: string }>(reportBlob);
  if (!report) return notInVault(noun, id);
  return answerWithReport(id, reportBlob, report);
}

/** A finished run's status, from its report alone. */
export function answerWithReport(id: string, reportBlob: string, report: { status: string }): HttpResponseInit {
  return {
    status: 200,
    jsonBody: { id, runtimeStatus: 'Completed', status: report.status, progress: null, reportBlob, report },
  };
}

/**
 * Work the vault keeps nothing of to answer with (its folder, or its report, gone). 410 when it existed and
 * its record is gone: Durable knows it, or it started more than a week's work ago, past which the artifacts
 * retention policy may have deleted it. Otherwise 404: a younger id the vault never held never existed.
 */
export function notInVault(noun: string, id: string, knownToDurable = false): HttpResponseInit {
  const started = startOfWork(id);
  const weekAgo = Date.now() - ARTIFACTS_MINIMUM_DAYS * 86_400_000;
  if (knownToDurable || (started && started.getTime() < weekAgo)) {
    const subject = `${noun[0]!.toUpperCase()}${noun.slice(1)} '${id}'`;
    return problem(410, `${subject} is not in the vault: past the retention policy it is deleted`);
  }
  return problem(404, `No ${noun} '${id}'`);
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

/** What a route needs: the least role, whether self-service users may call it, and what it audits. */
export interface RouteAccess {
  role: Role;
  /** With MAILBOX_VAULT_SELF_SERVICE on, a signed-in user without the role may call it for their own mailbox. */
  selfService?: boolean;
  /** A mutating route: every call leaves exactly one audit record of this action. */
  audit?: AuditAction;
}

/** Every route of the API with what it needs, in registration order (README's role table is checked against it). */
export const API_ROUTES: { name: string; method: HttpMethod; route: string; access: RouteAccess }[] = [];

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * An API route: every route of the app is registered here, so how callers are authenticated and authorized, how
 * mutating calls are audited, and how Graph's failures are answered, is decided in one place. Callers sign in
 * with Entra ID through App Service Authentication (shared/access/authenticate.ts); `access` names the role the
 * route needs. Function keys open nothing: the routes are anonymous to the Functions host, and the platform's
 * authentication stands in front of them.
 */
export function registerApiRoute(
  name: string,
  method: HttpMethod,
  route: string,
  access: RouteAccess,
  handler: HttpHandler,
): void {
  API_ROUTES.push({ name, method, route, access });
  // @azure/functions is CommonJS: Node's ESM loader reaches `app` through the default export.
  const guarded = guard(method, route, access, handler as Handler);
  functions.app.http(name, { route, methods: [method], authLevel: 'anonymous', handler: guarded });
}

export function registerDurableApiRoute(
  name: string,
  method: HttpMethod,
  route: string,
  access: RouteAccess,
  handler: (request: HttpRequest, client: df.DurableClient, context: InvocationContext) => Promise<HttpResponseInit>,
): void {
  API_ROUTES.push({ name, method, route, access });
  df.app.client.http(name, {
    route,
    methods: [method],
    authLevel: 'anonymous',
    handler: (request, client, context) =>
      guard(method, route, access, (req, ctx) => handler(req, client, ctx))(request, context),
  });
}

/**
 * A route anyone may load: only for the portal's static files, which hold no data (the API behind them keeps its
 * own authentication). GET only.
 */
export function registerPublicRoute(name: string, route: string, handler: HttpHandler): void {
  functions.app.http(name, { route, methods: ['GET'], authLevel: 'anonymous', handler });
}

interface CallState {
  auth: Authorization;
  /** The route as registered: `POST /api/restores`. */
  route: string;
  /** Set once the call's audit record is written (by the handler before it acts, or by the guard after). */
  audited: boolean;
  details?: AuditDetails;
}

const calls = new WeakMap<HttpRequest, CallState>();

/** The signed-in caller of a request the guard let through, and whether only self-service let them. */
export function authorizationOf(request: HttpRequest): Authorization {
  const state = calls.get(request);
  if (!state) throw new Error('The request did not pass registerApiRoute: no caller');
  return state.auth;
}

/**
 * Writes the call's audit record before the handler acts on it: once per call, so a call that was refused or
 * failed after this has no second record. Throws (the call fails, nothing was done) when the trail cannot be
 * written: nothing mutating happens unrecorded.
 */
export async function auditCall(
  request: HttpRequest,
  context: InvocationContext,
  details: AuditDetails,
): Promise<void> {
  const state = calls.get(request);
  if (!state) throw new Error('The request did not pass registerApiRoute: no caller');
  state.details = details;
  await writeAudit(request, context, state, { outcome: 'accepted', status: 202 });
  state.audited = true;
}

function guard(method: HttpMethod, route: string, access: RouteAccess, handler: Handler): Handler {
  const answering = answeringUpstreamFailures(handler);
  return async (request, context) => {
    const authentication = authenticate(request.headers);
    if ('refused' in authentication) {
      const { status, title, errors } = authentication.refused;
      return problem(status, title, errors);
    }
    const { caller } = authentication;
    const state: CallState = {
      auth: { caller, selfService: false },
      route: `${method} /api/${route}`,
      audited: false,
    };
    if (access.audit) state.details = { action: access.audit };
    calls.set(request, state);
    let response: HttpResponseInit;
    try {
      // A browser signed in by its session cookie sends it to the app whoever's page asks: no change from another site.
      refuseCrossSiteChange(method, request.headers, request.url);
      response = (await authorize(access, state)) ?? (await answering(request, context));
    } catch (error) {
      if (!(error instanceof AccessRefusal)) {
        if (access.audit && !state.audited)
          await writeAudit(request, context, state, { outcome: 'failed', status: 500, reason: errorReason(error) });
        throw error;
      }
      response = refusal(error);
    }
    if (access.audit && !state.audited) await auditAnswer(request, context, state, response);
    return response;
  };
}

/** undefined when the caller may go on (with the role, or as self-service); throws AccessRefusal otherwise. */
async function authorize(access: RouteAccess, state: CallState): Promise<undefined> {
  const { caller } = state.auth;
  if (grants(caller.roles, access.role)) return undefined;
  if (access.selfService && caller.kind === 'user' && (await getServices()).config.access.selfService) {
    state.auth = { caller, selfService: true };
    return undefined;
  }
  throw new AccessRefusal('role', `This needs the ${access.role} role (${ROLES[access.role]})`, [
    `${caller.name} holds ${caller.roles.length ? caller.roles.map((r) => ROLES[r]).join(', ') : 'no role of this app'}`,
  ]);
}

export function refusal(error: AccessRefusal): HttpResponseInit {
  const response = problem(403, error.message, error.errors);
  (response.jsonBody as { error: Record<string, unknown> }).error.rule = error.rule;
  return response;
}

/** The record of a call the handler did not carry out: refused (4xx) or failed (5xx). */
async function auditAnswer(
  request: HttpRequest,
  context: InvocationContext,
  state: CallState,
  response: HttpResponseInit,
): Promise<void> {
  const status = response.status ?? 200;
  const body = response.jsonBody as { error?: { title?: string; rule?: string } } | undefined;
  await writeAudit(request, context, state, {
    outcome: status >= 500 ? 'failed' : status >= 400 ? 'refused' : 'accepted',
    status,
    ...(body?.error?.title ? { reason: body.error.title } : {}),
    ...(body?.error?.rule ? { rule: body.error.rule } : {}),
  });
}

async function writeAudit(
  request: HttpRequest,
  context: InvocationContext,
  state: CallState,
  result: Pick<AuditRecord, 'outcome' | 'status'> & Partial<Pick<AuditRecord, 'reason' | 'rule'>>,
): Promise<void> {
  const { caller } = state.auth;
  const record: AuditRecord = {
    id: randomUUID(),
    at: new Date().toISOString(),
    route: state.route,
    ...state.details!,
    ...result,
    who: { kind: caller.kind, oid: caller.oid, upn: caller.upn, name: caller.name, roles: caller.roles },
    clientAddress: caller.clientAddress,
    userAgent: request.headers.get('user-agent'),
  };
  const { audit } = await getServices();
  await audit.append(record);
  context.log(formatTelemetry(auditEvent(record)));
}
