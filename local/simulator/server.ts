import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { issueToken, type ExchangeSettingsAnswer } from './auth.js';
import { handleRequest } from './dispatch.js';
import { createState, deltaQuotaKey, type SimulatorSettings, type SimulatorState } from './state.js';
import type { SimTenant } from './tenant.js';
import type { FaultRates, ScriptedFault, SimulatorLimits, ThrottleState } from './throttle.js';

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
  /** Largest import POST body taken (413 above it); default 200 MB, an item of ~150 MB as base64. */
  importBodyLimitBytes?: number;
  /** Status for an import POST on an expired or unknown session: 401 (default) or 404, as Exchange may answer. */
  expiredImportSessionStatus?: 401 | 404;
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
  /**
   * Sync-state generations Exchange keeps per delta collection (default 3): a round started from a token more
   * generations old is refused as SyncStateNotFound. `Infinity` keeps every one (lenient).
   */
  deltaGenerationsKept?: number;
  /** Probability that an item delta request answers 403 ErrorQuotaExceeded. */
  deltaQuotaExceededRate?: number;
  /**
   * `$expand` (and `$select`) on a fresh delta round: refused with 400 as Exchange refuses options change
   * tracking does not support (default), ignored, or honoured (lenient).
   */
  deltaExpand?: 'reject' | 'ignore' | 'honour';
  /**
   * Folder delta entries: 'thin' (default) carries only id, displayName and wellKnownName (v1.0) or parentMailboxUrl (beta), as the docs' examples;
   * 'full' adds parent, class, counts and well-known name (lenient).
   */
  folderDelta?: 'thin' | 'full';
  /** false: folder listings leave out `wellKnownName`, which the v1.0 metadata does not declare (default true). */
  listWellKnownNames?: boolean;
  /** How long a concurrency slot stays taken after its answer ends (default 5 ms; 0 frees it at once, lenient). */
  concurrencySlotHoldMs?: number;
  seed?: number;
  /** A multi-item exportItems answer whose body would be larger than this is a 504 GatewayTimeout. */
  maxExportResponseBytes?: number;
  /** How a per-item export error's key is spelled: Graph has used `Error` as well as `error`. */
  exportErrorKey?: 'error' | 'Error' | 'alternate';
}

export interface Simulator {
  readonly baseUrl: string;
  readonly tenant: SimTenant;
  readonly throttle: ThrottleState;
  /** A bearer token the simulator always accepts. */
  readonly demoToken: string;
  readonly options: SimulatorSettings;
  /** Issues a token as the token endpoint would. */
  issueToken(): { token: string; expiresOnTimestamp: number };
  /** Every token issued so far stops working (static ones too, when asked). */
  revokeTokens(includeStatic?: boolean): void;
  /** Every import session issued so far expires now. */
  expireImportSessions(): void;
  /** Every delta and skip token of the mailbox stops being accepted. */
  invalidateDeltaTokens(mailboxIdOrUpn: string): void;
  /**
   * Item delta of the folder (of every folder, without one) answers 403 ErrorQuotaExceeded until called again
   * with `exceeded` false.
   */
  exceedDeltaQuota(mailboxIdOrUpn: string, folderIdOrName?: string, exceeded?: boolean): void;
  /**
   * Delta rounds of the folder leave out its first `count` items (newest first), as a service bug might: they stay
   * listed and counted, and appear in the round after they are shown again. Returns their ids; a count of 0 shows
   * them all again.
   */
  hideFromDelta(mailboxIdOrUpn: string, folderIdOrName: string, count: number): string[];
  /** Graph refuses the app this mailbox (403 ErrorAccessDenied): every operation, or only those named; null lifts it. */
  denyMailbox(mailboxIdOrUpn: string, operations?: string[] | null): void;
  /** settings/exchange answers for this user as scripted until cleared (undefined: the plain entity again). */
  answerExchangeSettings(user: string, answer: ExchangeSettingsAnswer | undefined): void;
  setFaults(faults: Partial<FaultRates>): void;
  script(...faults: ScriptedFault[]): void;
  setLatency(latencyMs: number, jitterMs?: number): void;
  close(): Promise<void>;
}

/**
 * Starts the Exchange Online simulator: Graph's mailbox import/export endpoints (graph-mailbox-api.md) on
 * loopback, the Outlook import endpoint, an OAuth2 client-credentials token endpoint, and a control API
 * under /_sim for tests (mutations, inspection, counters, faults). The routes are in routes.ts.
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const state = createState(options);
  const server: Server = createServer((req, res) => handleRequest(state, simulator, req, res));
  const simulator = simulatorOf(state, server);
  server.keepAliveTimeout = 30_000;
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  state.baseUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  return simulator;
}

/** The handle tests and the demo hold: the state they may read, and the changes they may make to it. */
function simulatorOf(state: SimulatorState, server: Server): Simulator {
  const { tenant, throttle } = state;
  return {
    get baseUrl() {
      return state.baseUrl;
    },
    tenant,
    throttle,
    demoToken: state.demoToken,
    options: state.settings,
    issueToken: () => issueToken(state),
    revokeTokens(includeStatic = false) {
      state.issuedTokens.clear();
      if (includeStatic) state.staticTokens.clear();
    },
    expireImportSessions() {
      for (const session of state.importSessions.values()) session.expiresAt = 0;
    },
    invalidateDeltaTokens(idOrUpn) {
      tenant.mailbox(idOrUpn).deltaGeneration++;
    },
    exceedDeltaQuota(idOrUpn, folderIdOrName, exceeded = true) {
      const key = deltaQuotaKey(tenant, idOrUpn, folderIdOrName);
      if (exceeded) state.deltaQuotaExceeded.add(key);
      else state.deltaQuotaExceeded.delete(key);
    },
    hideFromDelta(idOrUpn, folderIdOrName, count) {
      const mailbox = tenant.mailbox(idOrUpn);
      const folder = mailbox.folderByIdOrName(folderIdOrName);
      if (!folder) throw new Error(`No folder '${folderIdOrName}' in ${mailbox.upn}`);
      const items = mailbox.itemsIn(folder.id).sort((a, b) => b.createdDateTime.localeCompare(a.createdDateTime));
      // Items shown again are changes of the next round, as an item that arrived after a round would be.
      for (const item of items) if (state.hiddenFromDelta.delete(item.id)) item.seq = mailbox.nextSeq();
      const hidden = items.slice(0, count).map((item) => item.id);
      for (const id of hidden) state.hiddenFromDelta.add(id);
      return hidden;
    },
    denyMailbox(idOrUpn, operations = []) {
      const { id } = tenant.mailbox(idOrUpn);
      if (operations === null) state.access.deniedMailboxes.delete(id);
      else state.access.deniedMailboxes.set(id, new Set(operations));
    },
    answerExchangeSettings(user, answer) {
      if (answer) state.access.exchangeSettings.set(user.toLowerCase(), answer);
      else state.access.exchangeSettings.delete(user.toLowerCase());
    },
    setFaults(faults) {
      throttle.faults = { ...throttle.faults, ...faults };
    },
    script(...faults) {
      throttle.scripted.push(...faults.map((f) => ({ times: 1, ...f })));
    },
    setLatency(ms, jitterMs = 0) {
      state.latency = { ms, jitterMs };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
