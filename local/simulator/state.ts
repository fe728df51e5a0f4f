import { randomBytes, randomUUID } from 'node:crypto';
import { registerApp, type RegisteredApp } from './apps.js';
import { noAccessRules, type AccessRules } from './auth.js';
import { setSecret, type StoredSecret } from './keyVault.js';
import { ALL_ROLES } from './permissions.js';
import { EXCHANGE_LIMITS, NO_FAULTS, ThrottleState } from './throttle.js';
import { SimTenant } from './tenant.js';
import type { SimulatorOptions } from './server.js';
import { GRAPH_RESOURCE, type TokenGrant } from './tokens.js';

/** The options with their defaults filled in, as `Simulator.options` shows them. */
export type SimulatorSettings = Required<
  Pick<
    SimulatorOptions,
    | 'importSessionLifetimeMs'
    | 'tokenLifetimeSeconds'
    | 'deltaGenerationsKept'
    | 'maxExportResponseBytes'
    | 'exportErrorKey'
    | 'deltaExpand'
    | 'concurrencySlotHoldMs'
    | 'lostConnectionSlotHoldMs'
    | 'folderDelta'
  >
> &
  SimulatorOptions;

/** Big enough for 20 items of a few MB each; a batch of larger items is a 504, as a gateway timeout would be. */
export const DEFAULT_MAX_EXPORT_RESPONSE_BYTES = 100 * 1024 * 1024;

/** How long a mailbox's concurrency slot stays taken after an answer ends (UNCONFIRMED: Graph does not say). */
export const DEFAULT_SLOT_HOLD_MS = 5;

/**
 * How long a request whose connection was lost before its answer ended stays counted (Exchange goes on with it;
 * for how long is UNCONFIRMED). Longer than a finished request's hold, shorter than the client's for a lost answer.
 */
export const DEFAULT_LOST_CONNECTION_SLOT_HOLD_MS = 100;

export interface ImportSessionRecord {
  mailboxId: string;
  expiresAt: number;
  version: string;
}

/** What the identity endpoints did, for tests to check; never a secret or a token. */
export type IdentityEvent =
  | { kind: 'token'; clientId: string; method: 'secret' | 'certificate'; resource: string }
  | { kind: 'managedIdentityToken'; resource: string }
  | { kind: 'secretRead'; name: string };

/** Everything one running simulator knows; handlers read and change it through the request they are given. */
export interface SimulatorState {
  readonly tenant: SimTenant;
  readonly throttle: ThrottleState;
  readonly settings: SimulatorSettings;
  /** Bearer tokens accepted without the token endpoint: the demo token and `options.staticTokens`. */
  readonly staticTokens: Set<string>;
  /** What a static token grants: every role, in every mailbox. */
  readonly staticGrant: TokenGrant;
  /** Tokens the simulator issued, with what each grants. */
  readonly issuedTokens: Map<string, TokenGrant>;
  /** App registrations the token endpoint knows, by client id. */
  readonly apps: Map<string, RegisteredApp>;
  /** The Key Vault's secrets, by name. */
  readonly secrets: Map<string, StoredSecret>;
  /** The managed identity endpoint's shared secret (IDENTITY_HEADER) and the identity's client id. */
  readonly identityHeader: string;
  readonly managedIdentityClientId: string;
  readonly identityLog: IdentityEvent[];
  /** Graph requests per client id of their token ('demo' for static tokens, 'test' for test tokens). */
  readonly graphRequestsByClient: Map<string, number>;
  /** Import sessions by the `authtoken` of their URL. */
  readonly importSessions: Map<string, ImportSessionRecord>;
  /** Mailboxes (id) and folders (`mailboxId/folderId`) whose item delta answers 403 ErrorQuotaExceeded. */
  readonly deltaQuotaExceeded: Set<string>;
  /** Items delta rounds leave out, as a service bug might (opt-in per test): listed and counted, never in delta. */
  readonly hiddenFromDelta: Set<string>;
  /** Signs delta and skip tokens, so a client cannot forge or alter one. */
  readonly syncKey: Buffer;
  readonly demoToken: string;
  /** Mailboxes and users the app is refused (opt-in per test). */
  readonly access: AccessRules;
  /** Added before every answer. */
  latency: { ms: number; jitterMs: number };
  /** Known once the server listens; links in answers start with it. */
  baseUrl: string;
  /** The HTTPS listener (Entra ID and Key Vault), when there is one. */
  httpsBaseUrl: string;
}

export function createState(options: SimulatorOptions): SimulatorState {
  const tenant = options.tenant ?? new SimTenant({ seed: options.seed ?? 1 });
  const throttle = new ThrottleState(
    { ...EXCHANGE_LIMITS, ...options.limits },
    { ...NO_FAULTS, ...options.faults },
    tenant.random,
  );
  const demoToken = `sim-demo-${randomBytes(12).toString('hex')}`;
  const state: SimulatorState = {
    tenant,
    throttle,
    settings: {
      importSessionLifetimeMs: 60 * 60_000,
      tokenLifetimeSeconds: 3600,
      deltaGenerationsKept: 3,
      maxExportResponseBytes: DEFAULT_MAX_EXPORT_RESPONSE_BYTES,
      exportErrorKey: 'alternate',
      deltaExpand: 'reject',
      concurrencySlotHoldMs: DEFAULT_SLOT_HOLD_MS,
      lostConnectionSlotHoldMs: DEFAULT_LOST_CONNECTION_SLOT_HOLD_MS,
      folderDelta: 'thin',
      ...options,
    },
    staticTokens: new Set([demoToken, ...(options.staticTokens ?? [])]),
    staticGrant: { expiresAt: Infinity, audience: GRAPH_RESOURCE, roles: new Set(ALL_ROLES), principal: 'test' },
    issuedTokens: new Map(),
    apps: new Map((options.clients ?? []).map((app) => [app.clientId, registerApp(app)])),
    secrets: new Map(),
    identityHeader: randomBytes(16).toString('hex'),
    // Not from the tenant's seeded random: that stream also drives faults, which tests replay by seed.
    managedIdentityClientId: randomUUID(),
    identityLog: [],
    graphRequestsByClient: new Map(),
    importSessions: new Map(),
    deltaQuotaExceeded: new Set(),
    hiddenFromDelta: new Set(),
    syncKey: randomBytes(32),
    demoToken,
    access: noAccessRules(),
    latency: { ms: options.latencyMs ?? 0, jitterMs: options.latencyJitterMs ?? 0 },
    baseUrl: '',
    httpsBaseUrl: '',
  };
  for (const [name, secret] of Object.entries(options.secrets ?? {})) {
    if (typeof secret === 'string') setSecret(state, name, secret);
    else setSecret(state, name, secret.value, secret.contentType);
  }
  return state;
}

/** The key of `deltaQuotaExceeded` for a mailbox, or for one of its folders. */
export function deltaQuotaKey(tenant: SimTenant, mailboxIdOrUpn: string, folderIdOrName?: string): string {
  const mailbox = tenant.mailbox(mailboxIdOrUpn);
  if (folderIdOrName === undefined) return mailbox.id;
  const folder = mailbox.folderByIdOrName(folderIdOrName);
  if (!folder) throw new Error(`No folder '${folderIdOrName}' in ${mailbox.upn}`);
  return `${mailbox.id}/${folder.id}`;
}
