import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Base64Decoder } from '../../shared/graph/base64Stream.js';
import { JsonTokenizer } from '../../shared/graph/jsonTokenizer.js';
import { generatePayload, PayloadRejectedError, PayloadVerifier } from './payload.js';
import {
  applySelect,
  decodeSyncState,
  encodeSyncState,
  folderExtendedProperties,
  folderJson,
  itemExtendedProperties,
  itemJson,
  matchesFilter,
  ODataQueryError,
  parseExpand,
  parseFilter,
  type SyncState,
} from './odata.js';
import {
  EXCHANGE_LIMITS,
  NO_FAULTS,
  ThrottleState,
  type FaultRates,
  type ScriptedFault,
  type SimulatorLimits,
} from './throttle.js';
import { SimTenant, type SimMailbox } from './tenant.js';
import { handleControl } from './control.js';

export interface SimulatorOptions {
  tenant?: SimTenant;
  host?: string;
  port?: number;
  /** Added before every answer (ms), with up to `latencyJitterMs` more. */
  latencyMs?: number;
  latencyJitterMs?: number;
  limits?: Partial<SimulatorLimits>;
  faults?: Partial<FaultRates>;
  /** Lifetime of an import session's URL. */
  importSessionLifetimeMs?: number;
  /** Lifetime of tokens from the token endpoint. */
  tokenLifetimeSeconds?: number;
  /** Bearer tokens accepted without the token endpoint (the demo token). */
  staticTokens?: string[];
  /** Client-credentials apps the token endpoint knows. */
  clients?: Array<{ clientId: string; clientSecret: string }>;
  /** Answer v1.0 folder creation with 405, as the v1.0 metadata would have it (the client then uses beta). */
  rejectV1FolderCreate?: boolean;
  /** Status for a delta or skip token the simulator no longer accepts. */
  rejectedDeltaStatus?: 400 | 404 | 410;
  seed?: number;
}

interface ImportSessionRecord {
  mailboxId: string;
  expiresAt: number;
  version: string;
}

export interface Simulator {
  readonly baseUrl: string;
  readonly tenant: SimTenant;
  readonly throttle: ThrottleState;
  /** A bearer token the simulator always accepts. */
  readonly demoToken: string;
  readonly options: Required<Pick<SimulatorOptions, 'importSessionLifetimeMs' | 'tokenLifetimeSeconds'>> &
    SimulatorOptions;
  /** Issues a token as the token endpoint would. */
  issueToken(): { token: string; expiresOnTimestamp: number };
  /** Every token issued so far stops working (static ones too, when asked). */
  revokeTokens(includeStatic?: boolean): void;
  /** Every import session issued so far expires now. */
  expireImportSessions(): void;
  /** Every delta and skip token of the mailbox stops being accepted. */
  invalidateDeltaTokens(mailboxIdOrUpn: string): void;
  setFaults(faults: Partial<FaultRates>): void;
  script(...faults: ScriptedFault[]): void;
  setLatency(latencyMs: number, jitterMs?: number): void;
  close(): Promise<void>;
}

class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

const VERSIONS = new Set(['v1.0', 'beta']);
const MAX_EXPORT_IDS = 20;

function isoWith7Digits(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

async function readSmallBody(req: IncomingMessage, limit = 1024 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new SimHttpError(413, 'RequestEntityTooLarge', 'The request body is too large');
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendGraphError(res: ServerResponse, error: SimHttpError): void {
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

/**
 * Starts the Exchange Online simulator: Graph's mailbox import/export endpoints (graph-mailbox-api.md) on
 * loopback, the Outlook import endpoint, an OAuth2 client-credentials token endpoint, and a control API
 * under /_sim for tests (mutations, inspection, counters, faults).
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const tenant = options.tenant ?? new SimTenant({ seed: options.seed ?? 1 });
  const throttle = new ThrottleState(
    { ...EXCHANGE_LIMITS, ...options.limits },
    { ...NO_FAULTS, ...options.faults },
    tenant.random,
  );
  const settings = { importSessionLifetimeMs: 60 * 60_000, tokenLifetimeSeconds: 3600, ...options };
  const demoToken = `sim-demo-${randomBytes(12).toString('hex')}`;
  const staticTokens = new Set([demoToken, ...(options.staticTokens ?? [])]);
  const issuedTokens = new Map<string, number>();
  const importSessions = new Map<string, ImportSessionRecord>();
  const clients = options.clients ?? [];
  const syncKey = randomBytes(32);
  let latencyMs = options.latencyMs ?? 0;
  let latencyJitterMs = options.latencyJitterMs ?? 0;
  let baseUrl = '';

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const latency = () =>
    latencyMs || latencyJitterMs ? sleep(latencyMs + tenant.random.next() * latencyJitterMs) : Promise.resolve();

  function issueToken() {
    const token = `sim-${randomBytes(24).toString('base64url')}`;
    const expiresOnTimestamp = Date.now() + settings.tokenLifetimeSeconds * 1000;
    issuedTokens.set(token, expiresOnTimestamp);
    return { token, expiresOnTimestamp };
  }

  function checkBearer(req: IncomingMessage): void {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const token = match[1]!;
    if (staticTokens.has(token)) return;
    const expires = issuedTokens.get(token);
    if (expires === undefined || expires < Date.now())
      throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
  }

  function resolveMailbox(raw: string): SimMailbox {
    const mailbox = tenant.mailboxes.get(raw);
    if (!mailbox) throw new SimHttpError(404, 'ErrorInvalidMailbox', `The mailbox '${raw}' could not be found.`);
    return mailbox;
  }

  /** Admission, faults and latency for a request on one mailbox; returns the release for when the answer ends. */
  async function enter(
    req: IncomingMessage,
    res: ServerResponse,
    mailbox: SimMailbox,
    operation: string,
  ): Promise<ScriptedFault | undefined> {
    const admission = throttle.admit(mailbox.id, operation);
    if (!admission.ok) throw new SimHttpError(429, admission.code, admission.message, admission.retryAfterSeconds);
    res.once('close', admission.release);
    // Export and import spans start at a call's arrival, its latency included, so rates measured over them
    // (the benchmark's) are not flattered by the first call's wait.
    const counters = throttle.countersFor(mailbox.id);
    if (operation === 'exportItems') counters.firstExportAt ||= Date.now();
    if (operation === 'importItem') counters.firstImportAt ||= Date.now();
    const scripted = throttle.takeScripted(operation, mailbox.id, mailbox.upn, [
      'http429',
      'http503',
      'http504',
      'http401',
      'drop',
      'truncate',
      'loseImportResponse',
      'expireSession',
    ]);
    await latency();
    if (scripted) {
      switch (scripted.fault) {
        case 'http429':
          throttle.countersFor(mailbox.id).throttled++;
          throw new SimHttpError(
            429,
            'ApplicationThrottled',
            'Application is over its MailboxConcurrency limit.',
            scripted.retryAfterSeconds ?? 1,
          );
        case 'http503':
          throw new SimHttpError(
            503,
            'ServiceUnavailable',
            'The service is temporarily unavailable.',
            scripted.retryAfterSeconds,
          );
        case 'http504':
          throw new SimHttpError(504, 'GatewayTimeout', 'The gateway did not receive a timely response.');
        case 'http401':
          throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
        case 'drop':
          req.socket.destroy();
          throw new DroppedConnection();
        default:
          return scripted; // handled inside the operation
      }
    }
    const f = throttle.faults;
    if (throttle.chance(f.drop)) {
      req.socket.destroy();
      throw new DroppedConnection();
    }
    if (throttle.chance(f.http503))
      throw new SimHttpError(
        503,
        'ServiceUnavailable',
        'The service is temporarily unavailable.',
        f.retryAfter503Seconds,
      );
    if (throttle.chance(f.http504))
      throw new SimHttpError(504, 'GatewayTimeout', 'The gateway did not receive a timely response.');
    return undefined;
  }

  function link(version: string, path: string, params: Record<string, string>): string {
    const url = new URL(`${baseUrl}/${version}${path}`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  }

  function pageOf<T>(
    all: T[],
    url: URL,
    version: string,
    path: string,
    defaultTop: number,
  ): { value: T[]; nextLink?: string } {
    const top = Math.min(1000, Math.max(1, Number(url.searchParams.get('$top') ?? defaultTop) || defaultTop));
    const skip = Math.max(0, Number(url.searchParams.get('$skip') ?? 0) || 0);
    const value = all.slice(skip, skip + top);
    if (skip + top >= all.length) return { value };
    const params = Object.fromEntries(url.searchParams.entries());
    return { value, nextLink: link(version, path, { ...params, $top: String(top), $skip: String(skip + top) }) };
  }

  function maxPageSize(req: IncomingMessage): number {
    const match = /odata\.maxpagesize=(\d+)/i.exec(String(req.headers.prefer ?? ''));
    return match ? Math.max(1, Math.min(1000, Number(match[1]))) : 100;
  }

  function deltaPage(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    version: string,
    mailbox: SimMailbox,
    collection: string,
    path: string,
  ): void {
    const skipToken = url.searchParams.get('$skiptoken');
    const deltaToken = url.searchParams.get('$deltatoken');
    let state: SyncState;
    if (skipToken || deltaToken) {
      const decoded = decodeSyncState((skipToken ?? deltaToken)!, syncKey);
      if (
        !decoded ||
        decoded.mailbox !== mailbox.id ||
        decoded.collection !== collection ||
        decoded.generation !== mailbox.deltaGeneration
      ) {
        const status = options.rejectedDeltaStatus ?? 410;
        throw new SimHttpError(
          status,
          'SyncStateNotFound',
          'The sync state could not be found; it may have expired. Restart the sync.',
        );
      }
      state = deltaToken ? { ...decoded, from: decoded.to, to: mailbox.seq, offset: 0 } : decoded;
    } else {
      state = {
        mailbox: mailbox.id,
        collection,
        generation: mailbox.deltaGeneration,
        from: 0,
        to: mailbox.seq,
        offset: 0,
        expand: parseExpand(url.searchParams.get('$expand')),
      };
    }
    const entries: Array<{ seq: number; json: Record<string, unknown> }> = [];
    const removed = (id: string) => ({
      '@odata.type': collection === 'folders' ? '#microsoft.graph.mailboxFolder' : '#microsoft.graph.mailboxItem',
      id,
      '@removed': { reason: 'deleted' },
    });
    if (collection === 'folders') {
      for (const f of mailbox.folders.values())
        if (f.seq > state.from && f.seq <= state.to) {
          const json = folderJson(baseUrl, version, mailbox, f);
          if (state.expand.length) json.singleValueExtendedProperties = folderExtendedProperties(f, state.expand);
          entries.push({ seq: f.seq, json });
        }
      if (state.from > 0)
        for (const t of mailbox.folderTombstones)
          if (t.seq > state.from && t.seq <= state.to) entries.push({ seq: t.seq, json: removed(t.id) });
    } else {
      for (const i of mailbox.items.values())
        if (i.folderId === collection && i.seq > state.from && i.seq <= state.to) {
          const json = itemJson(i);
          if (state.expand.length) json.singleValueExtendedProperties = itemExtendedProperties(i, state.expand);
          entries.push({ seq: i.seq, json });
        }
      if (state.from > 0)
        for (const t of mailbox.itemTombstones)
          if (t.folderId === collection && t.seq > state.from && t.seq <= state.to)
            entries.push({ seq: t.seq, json: removed(t.id) });
    }
    entries.sort((a, b) => a.seq - b.seq || String(a.json.id).localeCompare(String(b.json.id)));
    const size = maxPageSize(req);
    const value = entries.slice(state.offset, state.offset + size).map((e) => e.json);
    const body: Record<string, unknown> = {
      '@odata.context': `${baseUrl}/${version}/$metadata#Collection(${collection === 'folders' ? 'mailboxFolder' : 'mailboxItem'})`,
    };
    if (state.offset + size < entries.length) {
      body['@odata.nextLink'] = link(version, path, {
        $skiptoken: encodeSyncState({ ...state, offset: state.offset + size }, syncKey),
      });
    } else {
      body['@odata.deltaLink'] = link(version, path, {
        $deltatoken: encodeSyncState({ ...state, offset: 0 }, syncKey),
      });
    }
    body.value = value;
    sendJson(res, 200, body);
  }

  async function exportItems(
    req: IncomingMessage,
    res: ServerResponse,
    version: string,
    mailbox: SimMailbox,
    scripted: ScriptedFault | undefined,
  ): Promise<void> {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(await readSmallBody(req)) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof SimHttpError) throw error;
      throw new SimHttpError(400, 'BadRequest', 'The request body is not valid JSON.');
    }
    // The metadata says ItemIds, the docs say itemIds: working code sends both, so accept either.
    const key = Object.keys(parsed).find((k) => k.toLowerCase() === 'itemids');
    const ids = key ? parsed[key] : undefined;
    if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string')) {
      throw new SimHttpError(400, 'ErrorInvalidRequest', 'itemIds must be a non-empty array of item ids.');
    }
    if (ids.length > MAX_EXPORT_IDS)
      throw new SimHttpError(
        400,
        'ErrorInvalidRequest',
        `The number of item ids exceeds the maximum of ${MAX_EXPORT_IDS}.`,
      );
    const counters = throttle.countersFor(mailbox.id);
    counters.exportCalls++;
    res.once('finish', () => (counters.lastExportDoneAt = Date.now()));
    const failIds = new Set<string>();
    for (;;) {
      const f = throttle.takeScripted('exportItems', mailbox.id, mailbox.upn, ['itemError']);
      if (!f) break;
      for (const id of f.itemIds ?? []) failIds.add(id);
    }
    // Order is not guaranteed by Graph: shuffle so clients match on itemId.
    const order = [...(ids as string[])];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(tenant.random.next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const truncate = scripted?.fault === 'truncate' || throttle.chance(throttle.faults.truncateExport);
    res.writeHead(200, { 'Content-Type': 'application/json; odata.metadata=minimal' });
    const write = async (text: string | Buffer) => {
      if (!res.write(text)) await drainOrClose(res);
      if (res.destroyed) throw new DroppedConnection();
    };
    await write(
      `{"@odata.context":"${baseUrl}/${version}/$metadata#Collection(microsoft.graph.exportItemResponse)","value":[`,
    );
    let first = true;
    let written = 0;
    for (const id of order) {
      if (throttle.chance(throttle.faults.exportItemOmitted)) continue;
      const item = mailbox.items.get(id);
      const sep = first ? '' : ',';
      first = false;
      const errorCode = !item
        ? 'ErrorItemNotFound'
        : failIds.has(id)
          ? 'ErrorExportFailed'
          : (item.exportErrorCode ??
            (throttle.chance(throttle.faults.exportItemError) ? 'ErrorInternalServerTransientError' : undefined));
      if (errorCode || !item) {
        const message = !item ? 'The specified object was not found in the store.' : 'The item could not be exported.';
        await write(`${sep}{"itemId":${JSON.stringify(id)},"error":{"code":"${errorCode}","message":"${message}"}}`);
        continue;
      }
      await write(`${sep}{"itemId":${JSON.stringify(item.id)},"changeKey":${JSON.stringify(item.changeKey)},"data":"`);
      let carry = Buffer.alloc(0);
      let length = 0;
      for (const chunk of generatePayload(item.spec, tenant.integrityKey)) {
        const joined = carry.length ? Buffer.concat([carry, chunk]) : chunk;
        const whole = joined.length - (joined.length % 3);
        carry = Buffer.from(joined.subarray(whole));
        length += chunk.length;
        const text = joined.subarray(0, whole).toString('base64');
        written += text.length;
        await write(text);
        if (truncate && written > 4096) {
          // Let what was written reach the client first, so the body (not the connection) is what breaks.
          await new Promise((resolve) => res.write('', resolve));
          await sleep(20);
          res.destroy();
          throw new DroppedConnection();
        }
      }
      await write(`${carry.toString('base64')}"}`);
      counters.exportedItems++;
      counters.exportedBytes += length;
    }
    if (truncate) {
      res.destroy();
      throw new DroppedConnection();
    }
    res.end(']}');
  }

  async function importItem(
    req: IncomingMessage,
    res: ServerResponse,
    mailbox: SimMailbox,
    scripted: ScriptedFault | undefined,
  ): Promise<void> {
    const counters = throttle.countersFor(mailbox.id);
    counters.importPosts++;
    res.once('finish', () => (counters.lastImportDoneAt = Date.now()));
    const fields: Record<string, string> = {};
    let currentKey = '';
    let depth = 0;
    let sawData = false;
    const decoder = new Base64Decoder();
    const verifier = new PayloadVerifier(tenant.integrityKey);
    const tokenizer = new JsonTokenizer((event, value) => {
      if (event === 'startObject' || event === 'startArray') depth++;
      else if (event === 'endObject' || event === 'endArray') depth--;
      else if (event === 'key' && depth === 1) {
        currentKey = String(value);
        if (currentKey === 'Data') sawData = true;
      } else if (event === 'stringChunk' && depth === 1) {
        if (currentKey === 'Data') verifier.update(decoder.push(String(value)));
        else fields[currentKey] = (fields[currentKey] ?? '') + String(value);
      }
    });
    try {
      for await (const chunk of req) {
        throttle.addUpload(mailbox.id, (chunk as Buffer).length);
        counters.importedBytes += (chunk as Buffer).length;
        tokenizer.write(chunk as Buffer);
      }
      tokenizer.end();
      decoder.end();
    } catch (error) {
      if (req.destroyed || req.aborted) throw new DroppedConnection();
      counters.importRejected++;
      throw new SimHttpError(400, 'ErrorInvalidRequest', `The request body is not valid: ${(error as Error).message}`);
    }
    const mode = fields.Mode;
    if (!fields.FolderId) throw new SimHttpError(400, 'ErrorInvalidRequest', 'FolderId is required.');
    if (mode !== 'create' && mode !== 'update')
      throw new SimHttpError(400, 'ErrorInvalidRequest', "Mode must be 'create' or 'update'.");
    if (!sawData) throw new SimHttpError(400, 'ErrorInvalidRequest', 'Data is required.');
    if (mode === 'create' && (fields.ItemId || fields.ChangeKey))
      throw new SimHttpError(400, 'ErrorInvalidRequest', 'ItemId and ChangeKey are not allowed in create mode.');
    const folder = mailbox.folderByIdOrName(fields.FolderId);
    if (!folder)
      throw new SimHttpError(404, 'ErrorFolderNotFound', 'The specified folder could not be found in the store.');
    let verified;
    try {
      verified = verifier.finish();
    } catch (error) {
      counters.importRejected++;
      if (error instanceof PayloadRejectedError) throw new SimHttpError(400, 'ErrorCorruptData', error.message);
      throw error;
    }
    let item;
    if (mode === 'update') {
      const existing = fields.ItemId ? mailbox.items.get(fields.ItemId) : undefined;
      if (!existing || existing.folderId !== folder.id)
        throw new SimHttpError(404, 'ErrorItemNotFound', 'The item to update was not found in the folder.');
      if (existing.changeKey !== fields.ChangeKey)
        throw new SimHttpError(
          409,
          'ErrorIrresolvableConflict',
          'The change key does not match the current version of the item.',
        );
      item = tenant.replaceImportedItem(mailbox, existing, verified.spec, verified.digest);
    } else {
      item = tenant.createImportedItem(mailbox, folder.id, verified.spec, verified.digest, verified.length);
    }
    counters.importedItems++;
    if (scripted?.fault === 'loseImportResponse' || throttle.chance(throttle.faults.loseImportResponse)) {
      req.socket.destroy();
      throw new DroppedConnection();
    }
    sendJson(res, 200, {
      '@odata.context': `${baseUrl}/outlook/api/gv1.0/$metadata#microsoft.graph.importMailboxItemResponse`,
      itemId: item.id,
      changeKey: item.changeKey,
    });
  }

  async function createFolder(
    req: IncomingMessage,
    res: ServerResponse,
    version: string,
    mailbox: SimMailbox,
    parentId: string,
  ): Promise<void> {
    if (version === 'v1.0' && options.rejectV1FolderCreate)
      throw new SimHttpError(405, 'MethodNotAllowed', 'The HTTP method is not allowed for this resource.');
    let body: { displayName?: unknown; type?: unknown };
    try {
      body = JSON.parse(await readSmallBody(req)) as typeof body;
    } catch {
      throw new SimHttpError(400, 'BadRequest', 'The request body is not valid JSON.');
    }
    if (typeof body.displayName !== 'string' || body.displayName.trim() === '')
      throw new SimHttpError(400, 'ErrorInvalidRequest', 'displayName is required.');
    if (typeof body.type !== 'string' || !/^IPF(\.|$)/.test(body.type))
      throw new SimHttpError(400, 'ErrorInvalidRequest', 'type must be a folder class such as IPF.Note.');
    const parent = mailbox.folderByIdOrName(parentId);
    if (!parent) throw new SimHttpError(404, 'ErrorItemNotFound', 'The parent folder could not be found.');
    if (
      mailbox
        .childFolders(parent.id)
        .some((f) => f.displayName.toLowerCase() === (body.displayName as string).toLowerCase())
    ) {
      throw new SimHttpError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
    }
    const folder = tenant.addFolder(mailbox, parent.id, body.displayName, body.type);
    sendJson(res, 201, {
      '@odata.context': `${baseUrl}/${version}/$metadata#admin/exchange/mailboxes('${encodeURIComponent(mailbox.id)}')/folders/$entity`,
      ...folderJson(baseUrl, version, mailbox, folder),
    });
  }

  async function handleGraph(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    version: string,
    segments: string[],
  ): Promise<void> {
    checkBearer(req);
    const method = req.method ?? 'GET';
    // /users/{id}/settings/exchange
    if (
      segments[0] === 'users' &&
      segments.length === 4 &&
      segments[2] === 'settings' &&
      segments[3] === 'exchange' &&
      method === 'GET'
    ) {
      await latency();
      const user = segments[1]!;
      const mailboxId = tenant.users.get(user.toLowerCase());
      if (mailboxId === undefined)
        throw new SimHttpError(
          404,
          'Request_ResourceNotFound',
          `Resource '${user}' does not exist or one of its queried reference-property objects are not present.`,
        );
      if (mailboxId === null)
        throw new SimHttpError(
          404,
          'MailboxNotEnabledForRESTAPI',
          'The mailbox is either inactive, soft-deleted, or is hosted on-premise.',
        );
      const body: Record<string, unknown> = {
        '@odata.context': `${baseUrl}/${version}/$metadata#users('${encodeURIComponent(user)}')/settings/exchange/$entity`,
        primaryMailboxId: mailboxId,
      };
      const archive = tenant.mailboxes.get(mailboxId)?.archiveMailboxId;
      if (version === 'beta' && archive) body.inPlaceArchiveMailboxId = archive;
      sendJson(res, 200, body);
      return;
    }
    // /groups/{id}/transitiveMembers/microsoft.graph.user
    if (
      segments[0] === 'groups' &&
      segments.length === 4 &&
      segments[2] === 'transitiveMembers' &&
      segments[3] === 'microsoft.graph.user' &&
      method === 'GET'
    ) {
      await latency();
      const members = tenant.groups.get(segments[1]!);
      if (!members)
        throw new SimHttpError(
          404,
          'Request_ResourceNotFound',
          `Resource '${segments[1]}' does not exist or one of its queried reference-property objects are not present.`,
        );
      const all = members.map((upn) => ({
        '@odata.type': '#microsoft.graph.user',
        id: tenant.guid(),
        userPrincipalName: upn,
      }));
      const page = pageOf(
        all,
        url,
        version,
        `/groups/${encodeURIComponent(segments[1]!)}/transitiveMembers/microsoft.graph.user`,
        100,
      );
      sendJson(res, 200, {
        '@odata.context': `${baseUrl}/${version}/$metadata#users(id,userPrincipalName)`,
        value: page.value,
        ...(page.nextLink ? { '@odata.nextLink': page.nextLink } : {}),
      });
      return;
    }
    if (segments[0] !== 'admin' || segments[1] !== 'exchange' || segments[2] !== 'mailboxes' || segments.length < 5) {
      throw new SimHttpError(400, 'BadRequest', `Resource not found for the segment '${segments.join('/')}'.`);
    }
    const mailbox = resolveMailbox(segments[3]!);
    const rest = segments.slice(4);
    const mailboxPath = `/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}`;
    const op = operationOf(method, rest);
    if (!op) throw new SimHttpError(405, 'MethodNotAllowed', `${method} is not supported on this resource.`);
    const scripted = await enter(req, res, mailbox, op);
    const filter = parseFilter(url.searchParams.get('$filter'));
    const select = url.searchParams.get('$select');
    const expand = parseExpand(url.searchParams.get('$expand'));
    const folderOf = (id: string) => {
      const folder = mailbox.folderByIdOrName(id);
      if (!folder)
        throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified folder could not be found in the store.');
      return folder;
    };
    switch (op) {
      case 'exportItems':
        return exportItems(req, res, version, mailbox, scripted);
      case 'createImportSession': {
        const token = randomBytes(24).toString('base64url');
        const expiresAt = Date.now() + settings.importSessionLifetimeMs;
        importSessions.set(token, { mailboxId: mailbox.id, expiresAt, version });
        const importUrl = `${baseUrl}/outlook/api/g${version}/Mailboxes('${mailbox.id}')/importItem?authtoken=${token}`;
        sendJson(res, 200, {
          '@odata.context': `${baseUrl}/${version}/$metadata#microsoft.graph.mailboxItemImportSession`,
          importUrl,
          expirationDateTime: isoWith7Digits(expiresAt),
        });
        return;
      }
      case 'folderDelta':
        return deltaPage(req, res, url, version, mailbox, 'folders', `${mailboxPath}/folders/delta`);
      case 'itemDelta': {
        const folder = folderOf(rest[1]!);
        return deltaPage(
          req,
          res,
          url,
          version,
          mailbox,
          folder.id,
          `${mailboxPath}/folders/${encodeURIComponent(rest[1]!)}/items/delta`,
        );
      }
      case 'listFolders':
      case 'listChildFolders': {
        const parent = op === 'listFolders' ? mailbox.folders.get(mailbox.rootFolderId)! : folderOf(rest[1]!);
        const all = mailbox
          .childFolders(parent.id)
          .map((f) => ({ f, json: folderJson(baseUrl, version, mailbox, f) }))
          .filter(({ json }) => matchesFilter(json, filter))
          .map(({ f, json }) =>
            applySelect(
              expand.length ? { ...json, singleValueExtendedProperties: folderExtendedProperties(f, expand) } : json,
              select,
            ),
          );
        const path = `${mailboxPath}/folders${op === 'listChildFolders' ? `/${encodeURIComponent(rest[1]!)}/childFolders` : ''}`;
        const page = pageOf(all, url, version, path, 10);
        sendJson(res, 200, {
          '@odata.context': `${baseUrl}/${version}/$metadata#admin/exchange/mailboxes/${mailbox.id}/folders`,
          value: page.value,
          ...(page.nextLink ? { '@odata.nextLink': page.nextLink } : {}),
        });
        return;
      }
      case 'getFolder': {
        const folder = folderOf(rest[1]!);
        const json = folderJson(baseUrl, version, mailbox, folder);
        sendJson(res, 200, {
          '@odata.context': `${baseUrl}/${version}/$metadata#admin/exchange/mailboxes/${mailbox.id}/folders/$entity`,
          ...applySelect(
            expand.length ? { ...json, singleValueExtendedProperties: folderExtendedProperties(folder, expand) } : json,
            select,
          ),
        });
        return;
      }
      case 'createFolder':
        return createFolder(req, res, version, mailbox, rest.length === 1 ? mailbox.rootFolderId : rest[1]!);
      case 'listItems': {
        const folder = folderOf(rest[1]!);
        const all = mailbox
          .itemsIn(folder.id)
          .sort((a, b) => b.createdDateTime.localeCompare(a.createdDateTime) || a.id.localeCompare(b.id))
          .filter((i) => matchesFilter(itemJson(i), filter))
          .map((i) =>
            applySelect(
              expand.length
                ? { ...itemJson(i), singleValueExtendedProperties: itemExtendedProperties(i, expand) }
                : itemJson(i),
              select,
            ),
          );
        const page = pageOf(all, url, version, `${mailboxPath}/folders/${encodeURIComponent(rest[1]!)}/items`, 10);
        sendJson(res, 200, {
          '@odata.context': `${baseUrl}/${version}/$metadata#admin/exchange/mailboxes/${mailbox.id}/folders('${rest[1]}')/items`,
          value: page.value,
          ...(page.nextLink ? { '@odata.nextLink': page.nextLink } : {}),
        });
        return;
      }
      case 'getItem': {
        const folder = folderOf(rest[1]!);
        const item = mailbox.items.get(rest[3]!);
        if (!item || item.folderId !== folder.id)
          throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
        sendJson(res, 200, {
          '@odata.context': `${baseUrl}/${version}/$metadata#admin/exchange/mailboxes/${mailbox.id}/folders('${rest[1]}')/items/$entity`,
          ...applySelect(
            expand.length
              ? { ...itemJson(item), singleValueExtendedProperties: itemExtendedProperties(item, expand) }
              : itemJson(item),
            select,
          ),
        });
        return;
      }
      case 'updateFolder': {
        const folder = folderOf(rest[1]!);
        let patch: { displayName?: unknown };
        try {
          patch = JSON.parse(await readSmallBody(req)) as typeof patch;
        } catch {
          throw new SimHttpError(400, 'BadRequest', 'The request body is not valid JSON.');
        }
        if (patch.displayName !== undefined) {
          if (typeof patch.displayName !== 'string' || !patch.displayName.trim())
            throw new SimHttpError(400, 'ErrorInvalidRequest', 'displayName must be a non-empty string.');
          tenant.renameFolder(mailbox, folder.id, patch.displayName);
        }
        sendJson(res, 200, {
          '@odata.context': `${baseUrl}/${version}/$metadata#admin/exchange/mailboxes('${encodeURIComponent(mailbox.id)}')/folders/$entity`,
          ...folderJson(baseUrl, version, mailbox, folder),
        });
        return;
      }
      case 'deleteItem': {
        const folder = folderOf(rest[1]!);
        const item = mailbox.items.get(rest[3]!);
        if (!item || item.folderId !== folder.id)
          throw new SimHttpError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
        tenant.deleteItem(mailbox, item.id);
        res.writeHead(204).end();
        return;
      }
    }
  }

  async function handleImport(req: IncomingMessage, res: ServerResponse, url: URL, segments: string[]): Promise<void> {
    // /outlook/api/g{version}/Mailboxes('{id}')/importItem?authtoken=…
    if (req.method !== 'POST' || segments.length !== 4 || segments[0] !== 'api' || segments[3] !== 'importItem')
      throw new SimHttpError(404, 'NotFound', 'Not found');
    if (req.headers.authorization)
      throw new SimHttpError(
        400,
        'ErrorInvalidRequest',
        'The import URL is pre-authenticated; do not send an Authorization header.',
      );
    const token = url.searchParams.get('authtoken') ?? '';
    const session = importSessions.get(token);
    const idMatch = /^Mailboxes\('(.+)'\)$/.exec(segments[2]!);
    if (!session || !idMatch || idMatch[1] !== session.mailboxId)
      throw new SimHttpError(401, 'InvalidAuthenticationToken', 'The import session is not valid.');
    if (session.expiresAt < Date.now()) {
      importSessions.delete(token);
      throw new SimHttpError(401, 'InvalidAuthenticationToken', 'The import session has expired.');
    }
    const mailbox = resolveMailbox(session.mailboxId);
    const scripted = await enter(req, res, mailbox, 'importItem');
    if (scripted?.fault === 'expireSession') {
      importSessions.delete(token);
      throw new SimHttpError(401, 'InvalidAuthenticationToken', 'The import session has expired.');
    }
    await importItem(req, res, mailbox, scripted);
  }

  async function handleToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readSmallBody(req));
    if (form.get('grant_type') !== 'client_credentials') {
      sendJson(res, 400, {
        error: 'unsupported_grant_type',
        error_description: 'Only client_credentials is supported by the simulator.',
      });
      return;
    }
    const client = clients.find((c) => c.clientId === form.get('client_id'));
    if (!client || client.clientSecret !== form.get('client_secret')) {
      sendJson(res, 401, {
        error: 'invalid_client',
        error_description: 'AADSTS7000215: Invalid client secret provided.',
      });
      return;
    }
    const { token } = issueToken();
    sendJson(res, 200, {
      token_type: 'Bearer',
      expires_in: settings.tokenLifetimeSeconds,
      ext_expires_in: settings.tokenLifetimeSeconds,
      access_token: token,
    });
  }

  const simulator: Simulator = {
    get baseUrl() {
      return baseUrl;
    },
    tenant,
    throttle,
    demoToken,
    options: settings,
    issueToken,
    revokeTokens(includeStatic = false) {
      issuedTokens.clear();
      if (includeStatic) staticTokens.clear();
    },
    expireImportSessions() {
      for (const s of importSessions.values()) s.expiresAt = 0;
    },
    invalidateDeltaTokens(idOrUpn) {
      tenant.mailbox(idOrUpn).deltaGeneration++;
    },
    setFaults(faults) {
      throttle.faults = { ...throttle.faults, ...faults };
    },
    script(...faults) {
      throttle.scripted.push(...faults.map((f) => ({ times: 1, ...f })));
    },
    setLatency(ms, jitter = 0) {
      latencyMs = ms;
      latencyJitterMs = jitter;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Split the raw path first so an encoded '/' inside an id stays inside its segment.
    const segments = url.pathname
      .split('/')
      .filter(Boolean)
      .map((s) => decodeURIComponent(s));
    (async () => {
      if (segments[0] === '_sim') return handleControl(simulator, req, res, segments.slice(1), url);
      if (segments[0] === 'outlook') return handleImport(req, res, url, segments.slice(1));
      if (
        segments.length === 4 &&
        segments[1] === 'oauth2' &&
        segments[2] === 'v2.0' &&
        segments[3] === 'token' &&
        req.method === 'POST'
      )
        return handleToken(req, res);
      if (segments[0] && VERSIONS.has(segments[0])) return handleGraph(req, res, url, segments[0], segments.slice(1));
      throw new SimHttpError(404, 'NotFound', 'No such endpoint in the simulator.');
    })().catch((error: unknown) => {
      if (error instanceof DroppedConnection || res.destroyed) return;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof SimHttpError) sendGraphError(res, error);
      else if (error instanceof ODataQueryError)
        sendGraphError(res, new SimHttpError(400, 'BadRequest', error.message));
      else sendGraphError(res, new SimHttpError(500, 'InternalServerError', (error as Error).message));
    });
  });
  server.keepAliveTimeout = 30_000;
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  baseUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return simulator;
}

class DroppedConnection extends Error {}

function drainOrClose(res: ServerResponse): Promise<void> {
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

/** Which Graph operation a method and path (after the mailbox id) is, for counters, throttling and faults. */
function operationOf(method: string, rest: string[]): string | undefined {
  const [first, second, third, fourth] = rest;
  if (rest.length === 1 && first === 'exportItems' && method === 'POST') return 'exportItems';
  if (rest.length === 1 && first === 'createImportSession' && method === 'POST') return 'createImportSession';
  if (first !== 'folders') return undefined;
  if (rest.length === 1) return method === 'GET' ? 'listFolders' : method === 'POST' ? 'createFolder' : undefined;
  if (rest.length === 2) {
    if (method === 'PATCH' && second !== 'delta') return 'updateFolder';
    return method !== 'GET' ? undefined : second === 'delta' ? 'folderDelta' : 'getFolder';
  }
  if (rest.length === 3 && third === 'childFolders')
    return method === 'GET' ? 'listChildFolders' : method === 'POST' ? 'createFolder' : undefined;
  if (rest.length === 3 && third === 'items' && method === 'GET') return 'listItems';
  if (rest.length === 4 && third === 'items' && fourth === 'delta' && method === 'GET') return 'itemDelta';
  if (rest.length === 4 && third === 'items')
    return method === 'GET' ? 'getItem' : method === 'DELETE' ? 'deleteItem' : undefined;
  return undefined;
}
