import type { IncomingMessage, ServerResponse } from 'node:http';
import { enterMailbox, resolveMailbox, waitLatency } from './admission.js';
import { archiveRedirect, refuseArchiveOnV1, sendRedirect } from './archives.js';
import { checkMailboxAccess } from './auth.js';
import { handleControl } from './control.js';
import { SimHttpError, sendFailure } from './http.js';
import { parseExpand, parseFilter } from './odata.js';
import { requireMailboxInAppScope, requirePermission } from './permissions.js';
import type { GraphRequest, MailboxQuery, SimRequest } from './request.js';
import { findRoute } from './router.js';
import {
  DIRECTORY_ROUTES,
  MAILBOX_ROUTES,
  MANAGED_IDENTITY_ROUTES,
  OUTLOOK_ROUTES,
  TOKEN_ROUTES,
  USER_MAILBOX_ROUTES,
  type MailboxRoute,
} from './routes.js';
import type { Simulator } from './server.js';
import type { SimulatorState } from './state.js';
import type { SimMailbox } from './tenant.js';
import { bearerGrant, GRAPH_RESOURCE, type TokenGrant } from './tokens.js';

const VERSIONS = new Set(['v1.0', 'beta']);

/**
 * Every request's way in: the first segment picks the area, the area's table the handler. Here, once for all
 * routes: bearer check, permission (the token's roles), mailbox lookup, throttle slot, fault injection, and
 * turning failures into answers.
 */
export function handleRequest(
  state: SimulatorState,
  simulator: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  let segments: string[];
  try {
    // Split the raw path first so an encoded '/' inside an id stays inside its segment.
    segments = url.pathname
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
  } catch {
    // A malformed escape is the caller's mistake, answered as Graph would, not a crash of the simulator.
    return sendFailure(res, new SimHttpError(400, 'BadRequest', 'The request URL is not valid'));
  }
  routeRequest({ state, req, res, url, params: {} }, simulator, segments).catch((error: unknown) =>
    sendFailure(res, error),
  );
}

async function routeRequest(request: SimRequest, simulator: Simulator, segments: string[]): Promise<void> {
  const { req, res, url } = request;
  const method = req.method ?? 'GET';
  const [area] = segments;
  if (area === '_sim') return handleControl(simulator, req, res, segments.slice(1), url);
  if (area === 'outlook') {
    const found = findRoute(OUTLOOK_ROUTES, method, segments.slice(1));
    if (!found) throw new SimHttpError(404, 'NotFound', 'Not found');
    return found.route.handler({ ...request, params: found.params });
  }
  const identity = findRoute(MANAGED_IDENTITY_ROUTES, method, segments);
  if (identity) return identity.route.handler({ ...request, params: identity.params });
  const token = findRoute(TOKEN_ROUTES, method, segments);
  if (token) return token.route.handler({ ...request, params: token.params });
  if (area && VERSIONS.has(area)) return routeGraph({ ...request, version: area }, segments.slice(1));
  throw new SimHttpError(404, 'NotFound', 'No such endpoint in the simulator.');
}

async function routeGraph(request: GraphRequest, segments: string[]): Promise<void> {
  const grant = bearerGrant(request.state, request.req, GRAPH_RESOURCE);
  countByClient(request.state, grant);
  const method = request.req.method ?? 'GET';
  const directory = findRoute(DIRECTORY_ROUTES, method, segments);
  if (directory) {
    await waitLatency(request.state);
    requirePermission(grant, directory.route.operation);
    return directory.route.handler({ ...request, params: directory.params });
  }
  if (segments[0] === 'users' && segments.length > 2) {
    const found = findRoute(USER_MAILBOX_ROUTES, method, segments.slice(2));
    if (found) return routeUserMailbox(request, grant, segments[1]!, found);
  }
  const [admin, exchange, mailboxes, mailboxId, ...path] = segments;
  // Graph's paths are case-insensitive, and its own archive redirects say `/admin/Exchange/Mailboxes/`.
  const prefix = [admin, exchange, mailboxes].join('/').toLowerCase();
  if (prefix !== 'admin/exchange/mailboxes' || path.length === 0)
    throw new SimHttpError(400, 'BadRequest', `Resource not found for the segment '${segments.join('/')}'.`);
  return routeMailbox(request, grant, mailboxId!, path);
}

function countByClient({ graphRequestsByClient, staticGrant }: SimulatorState, grant: TokenGrant): void {
  const client = grant.clientId ?? (grant === staticGrant ? 'demo' : 'test');
  graphRequestsByClient.set(client, (graphRequestsByClient.get(client) ?? 0) + 1);
}

/**
 * An unknown mailbox is a 404 before anything else; a path the mailbox has no operation for, a 405. Refusals
 * (a missing permission, a mailbox outside the app's scope) come after admission, so they show in the counters.
 */
async function routeMailbox(
  request: GraphRequest,
  grant: TokenGrant,
  mailboxId: string,
  path: string[],
): Promise<void> {
  const { state, req } = request;
  const mailbox = resolveMailbox(state, mailboxId);
  refuseArchiveOnV1(request.version, mailbox);
  const method = req.method ?? 'GET';
  const found = findRoute(MAILBOX_ROUTES, method, path);
  if (!found) throw new SimHttpError(405, 'MethodNotAllowed', `${method} is not supported on this resource.`);
  return serveMailbox(request, grant, mailbox, found, path);
}

/** A mail API call on a user's mailbox (`/users/{id | upn}/...`): a user without a mailbox is Graph's 404. */
async function routeUserMailbox(
  request: GraphRequest,
  grant: TokenGrant,
  user: string,
  found: { route: MailboxRoute; params: Record<string, string> },
): Promise<void> {
  const mailboxId = request.state.tenant.mailboxes.has(user)
    ? user
    : request.state.tenant.users.get(user.toLowerCase());
  if (!mailboxId)
    throw new SimHttpError(
      404,
      'MailboxNotEnabledForRESTAPI',
      'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
    );
  return serveMailbox(request, grant, resolveMailbox(request.state, mailboxId), found, []);
}

/** Admission, permission, scope and access checks, then the operation's handler. */
async function serveMailbox(
  request: GraphRequest,
  grant: TokenGrant,
  mailbox: SimMailbox,
  found: { route: MailboxRoute; params: Record<string, string> },
  path: string[],
): Promise<void> {
  const { state, req, res } = request;
  const scripted = await enterMailbox(state, req, res, mailbox, found.route.operation);
  requirePermission(grant, found.route.operation);
  requireMailboxInAppScope(state, grant, mailbox);
  checkMailboxAccess(state, mailbox.id, found.route.operation);
  const location = archiveRedirect(request, mailbox, found.route.operation, path, found.params.folderId);
  if (location) return sendRedirect(res, location);
  return found.route.handler({
    ...request,
    params: found.params,
    mailbox,
    mailboxPath: `/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}`,
    scripted,
    query: queryOf(request.url),
  });
}

/** The OData query options every mailbox operation accepts; a malformed one is a 400 even where unused. */
function queryOf(url: URL): MailboxQuery {
  return {
    filter: parseFilter(url.searchParams.get('$filter')),
    select: url.searchParams.get('$select'),
    expand: parseExpand(url.searchParams.get('$expand')),
  };
}
