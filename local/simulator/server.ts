import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { registerApp, type SimAppRegistration } from './apps.js';
import type { ExchangeSettingsAnswer } from './auth.js';
import { handleCloudRequest } from './cloud.js';
import { handleRequest } from './dispatch.js';
import { setSecret } from './keyVault.js';
import { localCa } from './localCa.js';
import {
  createState,
  deltaQuotaKey,
  type IdentityEvent,
  type SimulatorSettings,
  type SimulatorState,
} from './state.js';
import { issueApiToken, issueTestToken, type IssuedToken } from './tokens.js';
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
  /** App registrations the token endpoint knows: credentials, granted roles, Exchange RBAC scope. */
  clients?: SimAppRegistration[];
  /**
   * Also listen on HTTPS, with a certificate from the process's local CA: Entra ID's endpoints (discovery and
   * token) and a Key Vault, for the real @azure/identity and @azure/keyvault-secrets clients.
   */
  https?: boolean;
  /** Port of the HTTPS listener (0, the default, picks a free one). */
  httpsPort?: number;
  /** Secrets in the Key Vault at start. */
  secrets?: Record<string, string | { value: string; contentType?: string }>;
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
  /**
   * Ids of the mail API (`/users/{id}/messages/...`): 'importIds' (default) takes the ids import and the mailbox
   * API give; 'listingOnly' refuses them (400 ErrorInvalidIdMalformed) and takes only ids from a folder listing.
   */
  messageIds?: 'importIds' | 'listingOnly';
  /** How long a concurrency slot stays taken after its answer ends (default 5 ms; 0 frees it at once, lenient). */
  concurrencySlotHoldMs?: number;
  /**
   * How long a request whose connection was lost before its answer ended (a drop, a cut-off body, a client that
   * gave up) stays counted against the mailbox's concurrency, as Exchange goes on with it (default 100 ms).
   */
  lostConnectionSlotHoldMs?: number;
  seed?: number;
  /** A multi-item exportItems answer whose body would be larger than this is a 504 GatewayTimeout. */
  maxExportResponseBytes?: number;
  /** How a per-item export error's key is spelled: Graph has used `Error` as well as `error`. */
  exportErrorKey?: 'error' | 'Error' | 'alternate';
}

/** Where the HTTPS listener serves Entra ID and Key Vault, and the CA a client must trust to reach it. */
export interface SimulatorHttps {
  /** `https://127.0.0.1:{port}` */
  readonly baseUrl: string;
  /** The authority host for @azure/identity (Entra ID's is https://login.microsoftonline.com). */
  readonly authorityHost: string;
  /** The Key Vault's URL: a name below `vault.localhost`, as a real vault's is below `vault.azure.net`. */
  readonly keyVaultUrl: string;
  /** The local CA's certificate (PEM), for NODE_EXTRA_CA_CERTS or a client's `ca` option. */
  readonly caCertificatePem: string;
}

export interface Simulator {
  readonly baseUrl: string;
  /** The HTTPS listener, when started with `https: true`. */
  readonly https: SimulatorHttps | undefined;
  /**
   * What App Service and Azure Functions set for an app's managed identity (IDENTITY_ENDPOINT, IDENTITY_HEADER),
   * pointing at the simulator: the real ManagedIdentityCredential then gets its tokens here.
   */
  readonly managedIdentityEnvironment: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** Tokens issued and secrets read, in order (names and client ids only). */
  readonly identityLog: readonly IdentityEvent[];
  /** Graph requests per client id of their token ('demo' for the static tokens, 'test' for issueToken's). */
  readonly graphRequestsByClient: ReadonlyMap<string, number>;
  readonly tenant: SimTenant;
  readonly throttle: ThrottleState;
  /** A bearer token the simulator always accepts. */
  readonly demoToken: string;
  readonly options: SimulatorSettings;
  /** Issues a Graph token as the token endpoint would, with every role unless `roles` says otherwise. */
  issueToken(options?: { roles?: readonly string[] }): IssuedToken;
  /**
   * A token for the mailbox-vault API (MAILBOX_VAULT_API_RESOURCE) with its app roles: for a user of the tenant
   * (`user`, a UPN), as an interactive sign-in gets one, or for an app.
   */
  issueApiToken(options?: { user?: string; clientId?: string; roles?: readonly string[] }): IssuedToken;
  /** Adds an app registration, or replaces the one with its client id (tokens already issued keep their roles). */
  registerApp(app: SimAppRegistration): void;
  /** Stores a secret in the Key Vault (a new version of it). */
  setSecret(name: string, value: string, contentType?: string): void;
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
 * loopback, the Outlook import endpoint, an OAuth2 client-credentials token endpoint, a managed identity
 * endpoint, and a control API under /_sim for tests (mutations, inspection, counters, faults). The routes are in
 * routes.ts. With `https`, a second listener serves Entra ID and Key Vault over TLS (cloud.ts).
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const state = createState(options);
  const server: Server = createServer((req, res) => handleRequest(state, simulator, req, res));
  const servers: Server[] = [server];
  const simulator = simulatorOf(state, servers);
  server.keepAliveTimeout = 30_000;
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  state.baseUrl = `http://${hostAndPort(server)}`;
  if (options.https) {
    const httpsServer = startHttps(state, options);
    servers.push(httpsServer);
    await once(httpsServer, 'listening');
    state.httpsBaseUrl = `https://${hostAndPort(httpsServer)}`;
  }
  return simulator;
}

function startHttps(state: SimulatorState, options: SimulatorOptions): Server {
  const { server: tls } = localCa();
  const server = createHttpsServer({ key: tls.privateKeyPem, cert: tls.certificatePem }, (req, res) =>
    handleCloudRequest(state, req, res),
  );
  server.keepAliveTimeout = 30_000;
  server.listen(options.httpsPort ?? 0, options.host ?? '127.0.0.1');
  return server;
}

function hostAndPort(server: Server): string {
  const address = server.address() as AddressInfo;
  return `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

function httpsOf(state: SimulatorState): SimulatorHttps | undefined {
  if (!state.httpsBaseUrl) return undefined;
  const port = new URL(state.httpsBaseUrl).port;
  return {
    baseUrl: state.httpsBaseUrl,
    authorityHost: state.httpsBaseUrl,
    keyVaultUrl: `https://mailbox-vault.vault.localhost:${port}`,
    caCertificatePem: localCa().certificatePem,
  };
}

/** The handle tests and the demo hold: the state they may read, and the changes they may make to it. */
function simulatorOf(state: SimulatorState, servers: Server[]): Simulator {
  const { tenant, throttle } = state;
  return {
    get baseUrl() {
      return state.baseUrl;
    },
    get https() {
      return httpsOf(state);
    },
    get managedIdentityEnvironment() {
      return { IDENTITY_ENDPOINT: `${state.baseUrl}/msi/token`, IDENTITY_HEADER: state.identityHeader };
    },
    identityLog: state.identityLog,
    graphRequestsByClient: state.graphRequestsByClient,
    tenant,
    throttle,
    demoToken: state.demoToken,
    options: state.settings,
    issueToken: (tokenOptions) => issueTestToken(state, tokenOptions),
    issueApiToken: (tokenOptions) => issueApiToken(state, tokenOptions),
    registerApp(app) {
      state.apps.set(app.clientId, registerApp(app));
    },
    setSecret(name, value, contentType) {
      setSecret(state, name, value, contentType);
    },
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
      await Promise.all(
        servers.map((server) => {
          server.closeAllConnections();
          return new Promise<void>((resolve) => server.close(() => resolve()));
        }),
      );
    },
  };
}
