import { randomBytes } from 'node:crypto';
import { noAccessRules, type AccessRules } from './auth.js';
import { EXCHANGE_LIMITS, NO_FAULTS, ThrottleState } from './throttle.js';
import { SimTenant } from './tenant.js';
import type { SimulatorOptions } from './server.js';

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
    | 'folderDelta'
  >
> &
  SimulatorOptions;

/** Big enough for 20 items of a few MB each; a batch of larger items is a 504, as a gateway timeout would be. */
export const DEFAULT_MAX_EXPORT_RESPONSE_BYTES = 100 * 1024 * 1024;

/** How long a mailbox's concurrency slot stays taken after an answer ends (UNCONFIRMED: Graph does not say). */
export const DEFAULT_SLOT_HOLD_MS = 5;

export interface ImportSessionRecord {
  mailboxId: string;
  expiresAt: number;
  version: string;
}

/** Everything one running simulator knows; handlers read and change it through the request they are given. */
export interface SimulatorState {
  readonly tenant: SimTenant;
  readonly throttle: ThrottleState;
  readonly settings: SimulatorSettings;
  /** Bearer tokens accepted without the token endpoint: the demo token and `options.staticTokens`. */
  readonly staticTokens: Set<string>;
  /** Tokens from the token endpoint, with when each expires (ms since epoch). */
  readonly issuedTokens: Map<string, number>;
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
}

export function createState(options: SimulatorOptions): SimulatorState {
  const tenant = options.tenant ?? new SimTenant({ seed: options.seed ?? 1 });
  const throttle = new ThrottleState(
    { ...EXCHANGE_LIMITS, ...options.limits },
    { ...NO_FAULTS, ...options.faults },
    tenant.random,
  );
  const demoToken = `sim-demo-${randomBytes(12).toString('hex')}`;
  return {
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
      folderDelta: 'thin',
      ...options,
    },
    staticTokens: new Set([demoToken, ...(options.staticTokens ?? [])]),
    issuedTokens: new Map(),
    importSessions: new Map(),
    deltaQuotaExceeded: new Set(),
    hiddenFromDelta: new Set(),
    syncKey: randomBytes(32),
    demoToken,
    access: noAccessRules(),
    latency: { ms: options.latencyMs ?? 0, jitterMs: options.latencyJitterMs ?? 0 },
    baseUrl: '',
  };
}

/** The key of `deltaQuotaExceeded` for a mailbox, or for one of its folders. */
export function deltaQuotaKey(tenant: SimTenant, mailboxIdOrUpn: string, folderIdOrName?: string): string {
  const mailbox = tenant.mailbox(mailboxIdOrUpn);
  if (folderIdOrName === undefined) return mailbox.id;
  const folder = mailbox.folderByIdOrName(folderIdOrName);
  if (!folder) throw new Error(`No folder '${folderIdOrName}' in ${mailbox.upn}`);
  return `${mailbox.id}/${folder.id}`;
}
