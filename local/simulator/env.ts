import { DEMO_TENANT, seedTenant, type TenantSeed } from './seed.js';
import type { SimulatorOptions } from './server.js';
import { SimTenant } from './tenant.js';

/** Every simulator option as an environment variable, with its default and meaning (docs/simulator.md lists the same). */
export const SIMULATOR_ENV = {
  SIM_HOST: ['127.0.0.1', 'Address to listen on (keep it on loopback)'],
  SIM_PORT: ['7400', 'Port to listen on (0 picks a free one)'],
  SIM_SEED: ['1', 'Seed for the tenant and for random faults'],
  SIM_TENANT: ['demo', "'demo' (4 mailboxes, ~770 items, one 24 MB item), 'empty', or 'spec' (SIM_TENANT_SPEC)"],
  SIM_TENANT_SPEC: [
    '',
    'With SIM_TENANT=spec: JSON {mailboxes: [{upn, items, kind?, sizes?: [min, max], largeItems?: [bytes], archive?: {items, auxiliaryChain?: [items]}}], usersWithoutMailbox?: [upn]}',
  ],
  SIM_HTTPS_PORT: ['7443', 'Port of the HTTPS listener (Entra ID token endpoint and Key Vault; 0 picks a free one)'],
  SIM_CA_FILE: ['.local-data/simulator-ca.pem', 'Where the local CA certificate is written (for NODE_EXTRA_CA_CERTS)'],
  SIM_STATIC_TOKEN: ['', 'An extra bearer token to accept (a random demo token is always printed)'],
  SIM_CLIENT_ID: ['mailbox-vault-local', 'Client id of the app registration the token endpoint knows (full app roles)'],
  SIM_CLIENT_SECRET: ['local-secret', 'Its client secret, also in the Key Vault as graph-client-credential'],
  SIM_LATENCY_MS: ['0', 'Latency added to every call'],
  SIM_LATENCY_JITTER_MS: ['0', 'Random extra latency, up to this much'],
  SIM_MAX_CONCURRENT: ['4', 'Requests in flight per mailbox before 429 ApplicationThrottled'],
  SIM_SLOT_HOLD_MS: ['5', "How long a mailbox's concurrency slot stays taken after an answer ends"],
  SIM_LOST_CONNECTION_HOLD_MS: [
    '100',
    'How long a request whose connection was lost before its answer ended stays counted (Exchange goes on with it)',
  ],
  SIM_REQUEST_BUDGET: ['10000', 'Requests per mailbox per window'],
  SIM_REQUEST_WINDOW_MS: ['600000', 'Request budget window'],
  SIM_UPLOAD_BUDGET_BYTES: ['157286400', 'Import bytes per mailbox per window'],
  SIM_UPLOAD_WINDOW_MS: ['300000', 'Upload budget window'],
  SIM_IMPORT_SESSION_LIFETIME_MS: ['3600000', 'Lifetime of an import session URL'],
  SIM_DELTA_GENERATIONS_KEPT: [
    '3',
    'Delta sync-state generations kept per folder; a round from an older deltaLink is 410 SyncStateNotFound',
  ],
  SIM_DELTA_EXPAND: [
    'reject',
    "$expand and $select on a fresh delta round: 'reject' (400 ErrorInvalidUrlQuery), 'ignore' or 'honour' (lenient)",
  ],
  SIM_FOLDER_DELTA: [
    'thin',
    "Folder delta entries: 'thin' (id, displayName, and wellKnownName on v1.0 or parentMailboxUrl on beta, as the docs' examples) or 'full' (lenient)",
  ],
  SIM_MESSAGE_IDS: [
    'importIds',
    "Ids the mail API (/users/{id}/messages) takes: 'importIds' (those import returns) or 'listingOnly' (only ids from a folder listing; import's are 400 ErrorInvalidIdMalformed)",
  ],
  SIM_EXPORT_MAX_RESPONSE_BYTES: ['104857600', 'A multi-item export answer larger than this is a 504 GatewayTimeout'],
  SIM_IMPORT_BODY_LIMIT_BYTES: ['209715200', 'Largest import POST body taken (413 above it)'],
  SIM_FAULT_503: ['0', 'Probability of a 503 per call'],
  SIM_FAULT_504: ['0', 'Probability of a 504 per call'],
  SIM_FAULT_DROP: ['0', 'Probability of a dropped connection per call'],
  SIM_FAULT_TRUNCATE: ['0', 'Probability of an export body cut short'],
  SIM_FAULT_ITEM_ERROR: ['0', 'Probability of a per-item export error'],
  SIM_FAULT_ITEM_OMITTED: ['0', 'Probability of an item missing from an export response'],
  SIM_FAULT_LOSE_IMPORT_RESPONSE: ['0', 'Probability that an import answer is lost after the item was created'],
  SIM_FAULT_DELTA_QUOTA: ['0', 'Probability that an item delta request answers 403 ErrorQuotaExceeded'],
} as const;

export type SimulatorEnvName = keyof typeof SIMULATOR_ENV;

function read(env: NodeJS.ProcessEnv, name: SimulatorEnvName): string {
  const value = env[name];
  return value === undefined || value === '' ? SIMULATOR_ENV[name][0] : value;
}

function number(
  env: NodeJS.ProcessEnv,
  name: SimulatorEnvName,
  { min = 0, max = Number.MAX_SAFE_INTEGER } = {},
): number {
  const text = read(env, name);
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max)
    throw new Error(`${name} must be a number from ${min} to ${max}, got '${text}'`);
  return value;
}

function probability(env: NodeJS.ProcessEnv, name: SimulatorEnvName): number {
  return number(env, name, { min: 0, max: 1 });
}

/** Where `npm run simulator` writes the local CA's certificate. */
export function caFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return read(env, 'SIM_CA_FILE');
}

/** Reads the simulator's options from the environment; a bad value fails with a message naming the variable. */
export function simulatorOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): SimulatorOptions {
  const seed = number(env, 'SIM_SEED', { min: 0, max: 2 ** 32 - 1 });
  const tenantKind = read(env, 'SIM_TENANT');
  if (tenantKind !== 'demo' && tenantKind !== 'empty' && tenantKind !== 'spec')
    throw new Error(`SIM_TENANT must be 'demo', 'empty' or 'spec', got '${tenantKind}'`);
  const tenant = new SimTenant({ seed });
  if (tenantKind === 'demo') seedTenant(tenant, DEMO_TENANT);
  if (tenantKind === 'spec') {
    let spec: TenantSeed;
    try {
      spec = JSON.parse(read(env, 'SIM_TENANT_SPEC')) as TenantSeed;
      if (!Array.isArray(spec.mailboxes)) throw new Error('mailboxes must be an array');
    } catch (error) {
      throw new Error(`SIM_TENANT_SPEC must be a JSON tenant description: ${(error as Error).message}`);
    }
    seedTenant(tenant, spec);
  }
  const staticToken = read(env, 'SIM_STATIC_TOKEN');
  return {
    tenant,
    host: read(env, 'SIM_HOST'),
    port: number(env, 'SIM_PORT', { max: 65535 }),
    seed,
    staticTokens: staticToken ? [staticToken] : [],
    clients: [{ clientId: read(env, 'SIM_CLIENT_ID'), clientSecret: read(env, 'SIM_CLIENT_SECRET') }],
    https: true,
    httpsPort: number(env, 'SIM_HTTPS_PORT', { max: 65535 }),
    // The app's default secret name: MAILBOX_VAULT_GRAPH_CREDENTIAL=clientSecret works against it as it stands.
    secrets: { 'graph-client-credential': read(env, 'SIM_CLIENT_SECRET') },
    latencyMs: number(env, 'SIM_LATENCY_MS'),
    latencyJitterMs: number(env, 'SIM_LATENCY_JITTER_MS'),
    importSessionLifetimeMs: number(env, 'SIM_IMPORT_SESSION_LIFETIME_MS', { min: 1 }),
    deltaGenerationsKept: number(env, 'SIM_DELTA_GENERATIONS_KEPT', { min: 1 }),
    deltaQuotaExceededRate: probability(env, 'SIM_FAULT_DELTA_QUOTA'),
    deltaExpand: oneOf(env, 'SIM_DELTA_EXPAND', ['reject', 'ignore', 'honour'] as const),
    concurrencySlotHoldMs: number(env, 'SIM_SLOT_HOLD_MS'),
    lostConnectionSlotHoldMs: number(env, 'SIM_LOST_CONNECTION_HOLD_MS'),
    folderDelta: oneOf(env, 'SIM_FOLDER_DELTA', ['thin', 'full'] as const),
    messageIds: oneOf(env, 'SIM_MESSAGE_IDS', ['importIds', 'listingOnly'] as const),
    maxExportResponseBytes: number(env, 'SIM_EXPORT_MAX_RESPONSE_BYTES', { min: 1 }),
    importBodyLimitBytes: number(env, 'SIM_IMPORT_BODY_LIMIT_BYTES', { min: 1 }),
    limits: {
      maxConcurrentPerMailbox: number(env, 'SIM_MAX_CONCURRENT', { min: 1 }),
      requestBudget: {
        requests: number(env, 'SIM_REQUEST_BUDGET', { min: 1 }),
        windowMs: number(env, 'SIM_REQUEST_WINDOW_MS', { min: 1 }),
      },
      uploadBudget: {
        bytes: number(env, 'SIM_UPLOAD_BUDGET_BYTES', { min: 1 }),
        windowMs: number(env, 'SIM_UPLOAD_WINDOW_MS', { min: 1 }),
      },
    },
    faults: {
      http503: probability(env, 'SIM_FAULT_503'),
      http504: probability(env, 'SIM_FAULT_504'),
      drop: probability(env, 'SIM_FAULT_DROP'),
      truncateExport: probability(env, 'SIM_FAULT_TRUNCATE'),
      exportItemError: probability(env, 'SIM_FAULT_ITEM_ERROR'),
      exportItemOmitted: probability(env, 'SIM_FAULT_ITEM_OMITTED'),
      loseImportResponse: probability(env, 'SIM_FAULT_LOSE_IMPORT_RESPONSE'),
    },
  };
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: SimulatorEnvName, values: readonly T[]): T {
  const value = read(env, name);
  if ((values as readonly string[]).includes(value)) return value as T;
  throw new Error(`${name} must be ${values.map((v) => `'${v}'`).join(' or ')}, got '${value}'`);
}
