import type { IncomingMessage, ServerResponse } from 'node:http';
import { churnMailbox } from './churn.js';
import { sendJson } from './http.js';
import { findRoute, type Params, type RouteEntry } from './router.js';
import type { Simulator } from './server.js';
import type { NewItem } from './tenant.js';
import { NO_FAULTS } from './throttle.js';

/**
 * The simulator's control API (`/_sim/...`): what a test or the demo needs to change the tenant between runs,
 * inspect mailboxes by content digest, read counters and inject faults. Loopback only, like the simulator.
 * It goes through the public `Simulator` interface, so it can do nothing a test in-process could not.
 */
interface ControlRequest {
  readonly sim: Simulator;
  /** The JSON body; empty for GET and DELETE. */
  readonly body: Record<string, unknown>;
  readonly url: URL;
  readonly params: Params;
}

interface ControlReply {
  status: number;
  body?: unknown;
}

interface ControlRoute extends RouteEntry {
  readonly handler: (request: ControlRequest) => ControlReply;
}

const NO_CONTENT: ControlReply = { status: 204 };

// A trailing `*` ignores what follows: these endpoints have always accepted extra segments.
const CONTROL_ROUTES: readonly ControlRoute[] = [
  { method: 'GET', pattern: 'mailboxes', handler: listMailboxes },
  { method: 'POST', pattern: 'mailboxes', handler: addMailbox },
  { method: 'GET', pattern: 'mailboxes/{mailbox}', handler: inspectMailbox },
  { method: 'POST', pattern: 'mailboxes/{mailbox}/invalidate-delta/*', handler: invalidateDelta },
  { method: 'POST', pattern: 'mailboxes/{mailbox}/folders/*', handler: ensureFolder },
  { method: 'POST', pattern: 'mailboxes/{mailbox}/items', handler: addItems },
  { method: 'POST', pattern: 'mailboxes/{mailbox}/churn', handler: churn },
  { method: 'PATCH', pattern: 'mailboxes/{mailbox}/items/{item}', handler: changeItem },
  { method: 'POST', pattern: 'mailboxes/{mailbox}/items/{item}/move/*', handler: moveItem },
  { method: 'POST', pattern: 'mailboxes/{mailbox}/items/{item}/export-error/*', handler: setExportError },
  { method: 'DELETE', pattern: 'mailboxes/{mailbox}/items/{item}', handler: deleteItem },
  { method: 'PUT', pattern: 'mailboxes/{mailbox}/access', handler: setMailboxAccess },
  { method: 'PUT', pattern: 'users/{user}/exchange-settings', handler: setExchangeSettingsAnswer },
  { method: 'GET', pattern: 'stats', handler: readStats },
  { method: 'POST', pattern: 'stats/reset/*', handler: resetStats },
  { method: 'PUT', pattern: 'faults/*', handler: injectFaults },
  { method: 'DELETE', pattern: 'faults/*', handler: clearFaults },
  { method: 'PUT', pattern: 'latency/*', handler: setLatency },
  { method: 'PUT', pattern: 'limits/*', handler: setLimits },
  { method: 'PUT', pattern: 'apps/{clientId}', handler: registerApp },
  { method: 'PUT', pattern: 'secrets/{name}', handler: setSecret },
  { method: 'POST', pattern: 'tokens', handler: issueToken },
  { method: 'POST', pattern: 'tokens/revoke/*', handler: revokeTokens },
  { method: 'POST', pattern: 'import-sessions/expire/*', handler: expireImportSessions },
];

/** Answers a control request; whatever a handler throws is the caller's mistake, a 400. */
export async function handleControl(
  sim: Simulator,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
  url: URL,
): Promise<void> {
  const method = req.method ?? 'GET';
  const body = method === 'GET' || method === 'DELETE' ? {} : await readJson(req);
  try {
    // The mailbox is looked up before the route, so an unknown one is a 400 whatever follows it in the path.
    if (segments[0] === 'mailboxes' && segments[1]) sim.tenant.mailbox(segments[1]);
    const found = findRoute(CONTROL_ROUTES, method, segments);
    const reply = found
      ? found.route.handler({ sim, body, url, params: found.params })
      : notFound(`No control endpoint ${method} /_sim/${segments.join('/')}`);
    sendJson(res, reply.status, reply.body);
  } catch (error) {
    sendJson(res, 400, { error: { code: 'BadRequest', message: (error as Error).message } });
  }
}

function notFound(message: string): ControlReply {
  return { status: 404, body: { error: { code: 'NotFound', message } } };
}

function listMailboxes({ sim }: ControlRequest): ControlReply {
  const mailboxes = [...sim.tenant.mailboxes.values()].map((m) => ({
    id: m.id,
    upn: m.upn,
    kind: m.kind,
    folders: m.folders.size,
    items: m.items.size,
  }));
  return { status: 200, body: mailboxes };
}

function addMailbox({ sim, body }: ControlRequest): ControlReply {
  const mailbox = sim.tenant.addMailbox(String(body.upn), { kind: body.kind === 'shared' ? 'shared' : 'user' });
  return { status: 201, body: { id: mailbox.id, upn: mailbox.upn } };
}

function inspectMailbox({ sim, url, params }: ControlRequest): ControlReply {
  const mailbox = sim.tenant.mailbox(params.mailbox!);
  return { status: 200, body: sim.tenant.inspect(mailbox, { digests: url.searchParams.get('digests') !== 'false' }) };
}

function invalidateDelta({ sim, params }: ControlRequest): ControlReply {
  sim.invalidateDeltaTokens(sim.tenant.mailbox(params.mailbox!).id);
  return NO_CONTENT;
}

function ensureFolder({ sim, body, params }: ControlRequest): ControlReply {
  const mailbox = sim.tenant.mailbox(params.mailbox!);
  const type = typeof body.type === 'string' ? body.type : undefined;
  const folder = sim.tenant.ensureFolderPath(mailbox, String(body.path), type);
  return { status: 201, body: { id: folder.id, path: mailbox.folderPath(folder.id) } };
}

function addItems({ sim, body, params }: ControlRequest): ControlReply {
  const { tenant } = sim;
  const mailbox = tenant.mailbox(params.mailbox!);
  const folderRef = String(body.folder ?? 'inbox');
  const folder = mailbox.folderByIdOrName(folderRef) ?? tenant.ensureFolderPath(mailbox, folderRef);
  const count = Number(body.count ?? 1);
  const created = Array.from({ length: count }, () => tenant.addItem(mailbox, folder.id, body as NewItem));
  return { status: 201, body: created.map((i) => ({ id: i.id, changeKey: i.changeKey })) };
}

/** `{fraction}`: a night's changes to that share of the mailbox's items (churn.ts), answered with what changed. */
function churn({ sim, body, params }: ControlRequest): ControlReply {
  return { status: 200, body: churnMailbox(sim.tenant, sim.tenant.mailbox(params.mailbox!), Number(body.fraction)) };
}

function changeItem({ sim, body, params }: ControlRequest): ControlReply {
  const subject = typeof body.subject === 'string' ? body.subject : undefined;
  const item = sim.tenant.changeItem(sim.tenant.mailbox(params.mailbox!), params.item!, { subject });
  return { status: 200, body: { id: item.id, changeKey: item.changeKey } };
}

function moveItem({ sim, body, params }: ControlRequest): ControlReply {
  const item = sim.tenant.moveItem(sim.tenant.mailbox(params.mailbox!), params.item!, String(body.folder));
  return { status: 200, body: { id: item.id, changeKey: item.changeKey } };
}

/** Makes exportItems fail this item with the code until cleared (no code clears it). */
function setExportError({ sim, body, params }: ControlRequest): ControlReply {
  const item = sim.tenant.requireItem(sim.tenant.mailbox(params.mailbox!), params.item!);
  if (body.code) item.exportErrorCode = String(body.code);
  else delete item.exportErrorCode;
  return NO_CONTENT;
}

function deleteItem({ sim, params }: ControlRequest): ControlReply {
  sim.tenant.deleteItem(sim.tenant.mailbox(params.mailbox!), params.item!);
  return NO_CONTENT;
}

/** `{denied: true, operations?: [...]}` refuses the app the mailbox (403), `{denied: false}` lifts it. */
function setMailboxAccess({ sim, body, params }: ControlRequest): ControlReply {
  const operations = Array.isArray(body.operations) ? body.operations.map(String) : [];
  sim.denyMailbox(params.mailbox!, body.denied === true ? operations : null);
  return NO_CONTENT;
}

const EXCHANGE_SETTINGS_ANSWERS = new Set(['valueWrapper', 'withoutId', 'badRequest', 'accessDenied']);

/** `{answer: 'valueWrapper' | 'withoutId' | 'badRequest' | 'accessDenied'}`, or `{}` for the plain entity again. */
function setExchangeSettingsAnswer({ sim, body, params }: ControlRequest): ControlReply {
  const answer = body.answer === undefined ? undefined : String(body.answer);
  if (answer !== undefined && !EXCHANGE_SETTINGS_ANSWERS.has(answer)) throw new Error(`Unknown answer '${answer}'`);
  sim.answerExchangeSettings(params.user!, answer as Parameters<Simulator['answerExchangeSettings']>[1]);
  return NO_CONTENT;
}

function readStats({ sim }: ControlRequest): ControlReply {
  return { status: 200, body: Object.fromEntries(sim.throttle.counters) };
}

function resetStats({ sim }: ControlRequest): ControlReply {
  sim.throttle.resetCounters();
  return NO_CONTENT;
}

function injectFaults({ sim, body }: ControlRequest): ControlReply {
  if (body.rates) sim.setFaults(body.rates as Record<string, number>);
  if (Array.isArray(body.script)) sim.script(...(body.script as Parameters<Simulator['script']>));
  return NO_CONTENT;
}

/** Drops scripted faults and zeroes every random rate (Retry-After settings stay). */
function clearFaults({ sim }: ControlRequest): ControlReply {
  sim.throttle.scripted = [];
  sim.setFaults(NO_FAULTS);
  return NO_CONTENT;
}

function setLatency({ sim, body }: ControlRequest): ControlReply {
  sim.setLatency(Number(body.ms ?? 0), Number(body.jitterMs ?? 0));
  return NO_CONTENT;
}

function setLimits({ sim, body }: ControlRequest): ControlReply {
  Object.assign(sim.throttle.limits, body);
  return NO_CONTENT;
}

/** `{clientSecret?, certificates?: [pem], roles?: [...], mailboxScope?: [...]}`: adds or replaces an app registration. */
function registerApp({ sim, body, params }: ControlRequest): ControlReply {
  const strings = (value: unknown) => (Array.isArray(value) ? value.map(String) : undefined);
  const [certificates, roles, mailboxScope] = [body.certificates, body.roles, body.mailboxScope].map(strings);
  sim.registerApp({
    clientId: params.clientId!,
    ...(typeof body.clientSecret === 'string' ? { clientSecret: body.clientSecret } : {}),
    ...(certificates ? { certificates } : {}),
    ...(roles ? { roles } : {}),
    ...(mailboxScope ? { mailboxScope } : {}),
  });
  return NO_CONTENT;
}

/** `{value, contentType?}`: a new version of a Key Vault secret. */
function setSecret({ sim, body, params }: ControlRequest): ControlReply {
  if (typeof body.value !== 'string') throw new Error('value must be a string');
  sim.setSecret(params.name!, body.value, typeof body.contentType === 'string' ? body.contentType : undefined);
  return NO_CONTENT;
}

/** `{roles?: [...]}`: a Graph token with these roles (every role without). */
/**
 * `POST /_sim/tokens`: a Graph token with `roles`; with `"audience": "api"`, a token for the mailbox-vault API
 * with its app roles, for a user (`user`: a UPN) or an app (`clientId`).
 */
function issueToken({ sim, body }: ControlRequest): ControlReply {
  const roles = Array.isArray(body.roles) ? body.roles.map(String) : undefined;
  const forApi = body.audience === 'api';
  const { token, expiresOnTimestamp } = forApi
    ? sim.issueApiToken({
        ...(roles ? { roles } : {}),
        ...(typeof body.user === 'string' ? { user: body.user } : {}),
        ...(typeof body.clientId === 'string' ? { clientId: body.clientId } : {}),
      })
    : sim.issueToken(roles ? { roles } : {});
  return { status: 200, body: { access_token: token, expires_on: expiresOnTimestamp } };
}

function revokeTokens({ sim, body }: ControlRequest): ControlReply {
  sim.revokeTokens(body.includeStatic === true);
  return NO_CONTENT;
}

function expireImportSessions({ sim }: ControlRequest): ControlReply {
  sim.expireImportSessions();
  return NO_CONTENT;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  const text = Buffer.concat(parts).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}
