import { Cron } from 'croner';
import { z } from 'zod';
import { MailboxVaultError } from './errors.js';

/**
 * Every setting the app reads, with its default. Read once at start-up into a typed object; a missing or
 * malformed value fails with a message naming the setting. README's settings table lists the same.
 */
export const SETTINGS = {
  MAILBOX_VAULT_GRAPH_BASE_URL: {
    default: 'https://graph.microsoft.com',
    description: "Graph's origin (the simulator's URL for local runs)",
  },
  MAILBOX_VAULT_GRAPH_API_VERSION: { default: 'v1.0', description: "'v1.0' (primary and shared mailboxes) or 'beta'" },
  MAILBOX_VAULT_GRAPH_CREDENTIAL: {
    default: 'managedIdentity',
    description:
      "'managedIdentity', 'clientSecret' or 'clientCertificate' (both from Key Vault), or 'staticToken' (simulator only)",
  },
  MAILBOX_VAULT_TENANT_ID: {
    default: '',
    description: 'Entra tenant of the app registration (clientSecret / clientCertificate)',
  },
  MAILBOX_VAULT_CLIENT_ID: {
    default: '',
    description: 'Application (client) id of the app registration (clientSecret / clientCertificate)',
  },
  MAILBOX_VAULT_AUTHORITY_HOST: {
    default: 'https://login.microsoftonline.com',
    description:
      'Entra ID authority host for clientSecret / clientCertificate (https://login.microsoftonline.us for US Government)',
  },
  MAILBOX_VAULT_KEY_VAULT_URL: { default: '', description: 'Key Vault holding the Graph client secret or certificate' },
  MAILBOX_VAULT_GRAPH_SECRET_NAME: {
    default: 'graph-client-credential',
    description: 'Key Vault secret with the client secret, or the PEM certificate and key',
  },
  MAILBOX_VAULT_GRAPH_STATIC_TOKEN: {
    default: '',
    description: 'Bearer token for the simulator; refused for graph.microsoft.com',
  },
  MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID: {
    default: '',
    description: "Client id of the app's user-assigned managed identity (system-assigned when empty)",
  },
  MAILBOX_VAULT_GRAPH_MAX_CONCURRENCY: {
    default: '4',
    description: 'Graph requests in flight per mailbox per instance, 1 to 4',
  },
  MAILBOX_VAULT_GRAPH_TIMEOUT_MS: { default: '100000', description: 'Time allowed for a Graph response to start' },
  MAILBOX_VAULT_GRAPH_MAX_RETRIES: {
    default: '10',
    description: 'Retries of a Graph call on 429, 5xx and network errors',
  },
  MAILBOX_VAULT_GRAPH_LOG: {
    default: 'warnings',
    description:
      "'warnings' logs Graph retries and throttling (never URLs with tokens, headers or bodies); 'quiet' does not",
  },
  MAILBOX_VAULT_GRAPH_RETRY_BASE_MS: {
    default: '1000',
    description: 'First backoff after a 5xx or network error (doubles each time, with jitter)',
  },
  MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: {
    default: '150',
    description:
      "Exchange's upload budget per mailbox (MB per 5 minutes); restores hold their uploads under it across instances, 0 turns pacing off",
  },
  MAILBOX_VAULT_GRAPH_UPLOAD_WINDOW_MS: {
    default: '300000',
    description:
      "Length of Exchange's upload window; the budget per window is the rate above times it. Only tests and benchmarks that scale the window change it",
  },
  MAILBOX_VAULT_STORAGE_ACCOUNT_URL: {
    default: '',
    description: 'Vault storage account blob endpoint, reached with the managed identity',
  },
  MAILBOX_VAULT_STORAGE_CONNECTION_STRING: {
    default: '',
    description: 'Connection string for Azurite (local runs only; Azure uses the URL)',
  },
  MAILBOX_VAULT_CONTAINER: { default: 'mailbox-vault', description: 'Blob container holding the vault' },
  MAILBOX_VAULT_AUDIT_ACCOUNT_URL: {
    default: '',
    description:
      "Blob endpoint of the audit account (append-only container, infra/app/audit-storage.bicep); empty: the vault's account",
  },
  MAILBOX_VAULT_AUDIT_CONTAINER: {
    default: 'mailbox-vault-audit',
    description: 'Container of the audit trail: append blobs under a time-based retention policy',
  },
  MAILBOX_VAULT_SELF_SERVICE: {
    default: 'false',
    description: "'true': every signed-in user may browse and restore their own mailbox, into their own mailbox only",
  },
  MAILBOX_VAULT_RESTORE_TARGETS: {
    default: '',
    description: 'Allow-list of restore targets (UPNs separated by commas or semicolons); empty: any mailbox in scope',
  },
  MAILBOX_VAULT_TASK_HUB: { default: 'mailboxvault', description: 'Durable Functions task hub name (host.json)' },
  MAILBOX_VAULT_BACKUP_SCHEDULE: {
    default: '0 0 2 * * *',
    description: 'NCRONTAB (six fields, UTC) of the scheduled backup; default 02:00 nightly',
  },
  MAILBOX_VAULT_SCOPE_USERS: {
    default: '',
    description: 'Mailboxes in scope: UPNs separated by commas or semicolons (primary or shared)',
  },
  MAILBOX_VAULT_SCOPE_GROUP_ID: {
    default: '',
    description: 'Object id of an Entra group whose members are in scope (with or instead of the list)',
  },
  MAILBOX_VAULT_BACKUP_ARCHIVES: {
    default: 'true',
    description:
      "Back up users' in-place archives (auxiliary archives included) as mailboxes of their own; needs MAILBOX_VAULT_GRAPH_API_VERSION 'beta' (with 'v1.0' each run report says why archives were not backed up)",
  },
  MAILBOX_VAULT_BACKUP_RECOVERABLE_ITEMS: {
    default: 'false',
    description:
      "Back up each primary or shared mailbox's Recoverable Items deletions (recoverableitemsdeletions), browsable and restorable into a normal folder",
  },
  MAILBOX_VAULT_MAILBOX_WAVE_SIZE: {
    default: '10',
    description: 'Mailboxes backed up in parallel (each has its own Graph budget)',
  },
  MAILBOX_VAULT_EXPORT_CONCURRENCY: { default: '3', description: 'exportItems calls in flight per mailbox, 1 to 4' },
  MAILBOX_VAULT_EXPORT_BATCH_MB: {
    default: '24',
    description: 'Reported size (MB) packed into one exportItems call, at most 20 items',
  },
  MAILBOX_VAULT_IMPORT_CONCURRENCY: {
    default: '4',
    description:
      'Import batches in flight per target mailbox, 1 to 4 (their uploads are paced together under its upload budget)',
  },
  MAILBOX_VAULT_IMPORT_SETTLE_SECONDS: {
    default: '30',
    description:
      'After an import whose outcome is unknown (a 504, a lost answer, a worker that died), how long to wait, 0 to 120, before looking for the item in the target and posting it again (Exchange may still commit it)',
  },
  MAILBOX_VAULT_STAGING_MAILBOX: {
    default: '',
    description:
      'UPN of the shared mailbox downloads convert items in (README, Downloads); empty: downloads are refused',
  },
  MAILBOX_VAULT_DOWNLOAD_LINK_HOURS: {
    default: '24',
    description: 'How long an export (MBOX or ZIP) stays downloadable, and a link to it is valid',
  },
  MAILBOX_VAULT_RETENTION_KEEP_ALL_DAYS: { default: '7', description: 'Keep every snapshot this many days' },
  MAILBOX_VAULT_RETENTION_DAILY_DAYS: {
    default: '30',
    description: 'Then keep the last snapshot of each day for this many days',
  },
  MAILBOX_VAULT_RETENTION_WEEKLY_WEEKS: {
    default: '12',
    description: 'Then the last snapshot of each week for this many weeks',
  },
  MAILBOX_VAULT_RETENTION_MONTHLY_MONTHS: {
    default: '12',
    description:
      'Then the last snapshot of each month for this many months (the newest snapshot of a mailbox is always kept)',
  },
  MAILBOX_VAULT_MAINTENANCE_SCHEDULE: {
    default: '0 30 5 * * *',
    description: 'NCRONTAB (UTC) of the maintenance run: prune by the retention policy, then a sampled verification',
  },
  MAILBOX_VAULT_VERIFY_SAMPLE: {
    default: '50',
    description: 'Item versions re-hashed per mailbox by a sampled verification',
  },
  MAILBOX_VAULT_WINDOWS_PER_EPISODE: {
    default: '20',
    description:
      'Windows of work (exports, imports, maintenance) before an orchestration continues as new (bounds history)',
  },
  MAILBOX_VAULT_PLAN_SLICE_ITEMS: {
    default: '50000',
    description:
      'Item records one planning activity reads (at most 100 folders; a larger folder over several activities, page by page) before it checkpoints and the next continues',
  },
  MAILBOX_VAULT_COMMIT_SLICE_RECORDS: {
    default: '200000',
    description:
      'Records one commit activity sorts or merges before it checkpoints and the next continues (a commit within it is one activity)',
  },
  MAILBOX_VAULT_RESTORE_PLAN_SLICE_ITEMS: {
    default: '200000',
    description:
      "Items one restore-planning activity works through (the source's, and the target's when collisions are skipped) before it checkpoints and the next continues",
  },
} as const;

export type SettingName = keyof typeof SETTINGS;

export type GraphCredentialKind = 'managedIdentity' | 'clientSecret' | 'clientCertificate' | 'staticToken';

export interface GraphConfig {
  baseUrl: string;
  apiVersion: 'v1.0' | 'beta';
  credential:
    | { kind: 'managedIdentity'; managedIdentityClientId?: string }
    | {
        kind: 'clientSecret' | 'clientCertificate';
        tenantId: string;
        clientId: string;
        /** Entra ID's authority host (the global cloud's when absent). */
        authorityHost?: string;
        keyVaultUrl: string;
        secretName: string;
        managedIdentityClientId?: string;
      }
    | { kind: 'staticToken'; token: string };
  maxConcurrentRequestsPerMailbox: number;
  requestTimeoutInMs: number;
  maxRetries: number;
  retryBaseDelayInMs: number;
  /** Exchange's upload budget per mailbox; imports are paced under it (null: not paced). */
  uploadBudget: { bytes: number; windowMs: number } | null;
  logRetries: boolean;
}

export interface StorageConfig {
  /** Exactly one of the two. */
  accountUrl?: string;
  connectionString?: string;
  containerName: string;
  managedIdentityClientId?: string;
}

export interface BackupConfig {
  schedule: string;
  scope: { users: string[]; groupId?: string };
  waveSize: number;
  exportConcurrency: number;
  batchReportedBytes: number;
  windowsPerEpisode: number;
  /** Item records one planning slice reads before it checkpoints. */
  planSliceItems: number;
  /** Records one commit slice sorts or merges before it checkpoints. */
  commitSliceRecords: number;
  /** Back up in-place archives (beta only: on v1.0 the run report says why they were not). */
  archives: boolean;
  /** Back up Recoverable Items (the deletions folder, the only one Graph's mailbox API exposes). */
  recoverableItems: boolean;
}

export interface MaintenanceConfig {
  retention: { keepAllDays: number; dailyDays: number; weeklyWeeks: number; monthlyMonths: number };
  schedule: string;
  verifySample: number;
}

export interface RestoreConfig {
  importConcurrency: number;
  /** How long an import whose outcome is unknown is given to land before the target is searched for it. */
  importSettleInMs: number;
  /** Items one restore-planning slice works through before it checkpoints. */
  planSliceItems: number;
}

/** Who may do what beyond the roles (shared/access/policy.ts), and where the audit trail is kept. */
export interface AccessConfig {
  selfService: boolean;
  /** Restore targets allowed (UPNs, lower case); null: any mailbox in scope. */
  restoreTargets: string[] | null;
  audit: { accountUrl?: string; containerName: string };
}

/** Downloads through the staging mailbox (shared/download). */
export interface DownloadConfig {
  /** UPN of the staging mailbox; undefined: downloads are refused. */
  stagingMailbox?: string;
  /** How long an export stays downloadable. */
  linkLifetimeInMs: number;
}

export interface AppConfig {
  graph: GraphConfig;
  storage: StorageConfig;
  access: AccessConfig;
  taskHub: string;
  backup: BackupConfig;
  restore: RestoreConfig;
  download: DownloadConfig;
  maintenance: MaintenanceConfig;
}

export class ConfigError extends MailboxVaultError {
  readonly code = 'InvalidConfiguration';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

const httpsOrLoopback = (value: string) => {
  try {
    const url = new URL(value);
    return (
      url.protocol === 'https:' ||
      (url.protocol === 'http:' && /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname))
    );
  } catch {
    return false;
  }
};

const isHttpsOrigin = (value: string) => {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.pathname.replace(/\/+$/, '') === '' && !url.search && !url.hash;
  } catch {
    return false;
  }
};

const Raw = z.object({
  MAILBOX_VAULT_GRAPH_BASE_URL: z
    .string()
    .refine(httpsOrLoopback, 'must be an https URL (or http on loopback, for the simulator)'),
  MAILBOX_VAULT_GRAPH_API_VERSION: z.enum(['v1.0', 'beta']),
  MAILBOX_VAULT_GRAPH_CREDENTIAL: z.enum(['managedIdentity', 'clientSecret', 'clientCertificate', 'staticToken']),
  MAILBOX_VAULT_TENANT_ID: z.string(),
  MAILBOX_VAULT_CLIENT_ID: z.string(),
  MAILBOX_VAULT_AUTHORITY_HOST: z
    .string()
    .refine(
      isHttpsOrigin,
      'must be the https origin of an Entra ID authority, such as https://login.microsoftonline.us (no path)',
    ),
  MAILBOX_VAULT_KEY_VAULT_URL: z.string(),
  MAILBOX_VAULT_GRAPH_SECRET_NAME: z
    .string()
    .regex(/^[0-9a-zA-Z-]{1,127}$/, 'must be a Key Vault secret name (letters, digits, dashes)'),
  MAILBOX_VAULT_GRAPH_STATIC_TOKEN: z.string(),
  MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID: z.string(),
  MAILBOX_VAULT_GRAPH_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(4),
  MAILBOX_VAULT_GRAPH_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000),
  MAILBOX_VAULT_GRAPH_MAX_RETRIES: z.coerce.number().int().min(0).max(50),
  MAILBOX_VAULT_GRAPH_LOG: z.enum(['warnings', 'quiet']),
  MAILBOX_VAULT_GRAPH_RETRY_BASE_MS: z.coerce.number().int().min(1).max(60_000),
  MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: z.coerce.number().min(0).max(1_000_000),
  MAILBOX_VAULT_GRAPH_UPLOAD_WINDOW_MS: z.coerce.number().int().min(100).max(3_600_000),
  MAILBOX_VAULT_STORAGE_ACCOUNT_URL: z.string(),
  MAILBOX_VAULT_STORAGE_CONNECTION_STRING: z.string(),
  MAILBOX_VAULT_CONTAINER: z
    .string()
    .regex(
      /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/,
      'must be a valid blob container name (3-63 lower-case letters, digits, single dashes)',
    ),
  MAILBOX_VAULT_AUDIT_ACCOUNT_URL: z
    .string()
    .refine((v) => v === '' || httpsOrLoopback(v), 'must be an https URL (the audit account blob endpoint)'),
  MAILBOX_VAULT_AUDIT_CONTAINER: z
    .string()
    .regex(
      /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/,
      'must be a valid blob container name (3-63 lower-case letters, digits, single dashes)',
    ),
  MAILBOX_VAULT_SELF_SERVICE: z.enum(['true', 'false']),
  MAILBOX_VAULT_RESTORE_TARGETS: z.string(),
  MAILBOX_VAULT_TASK_HUB: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9]{2,44}$/, 'must be 3-45 letters and digits, starting with a letter'),
  MAILBOX_VAULT_BACKUP_SCHEDULE: z
    .string()
    .refine(isNcrontab, 'must be a six-field NCRONTAB expression, such as 0 0 2 * * *'),
  MAILBOX_VAULT_SCOPE_USERS: z.string(),
  MAILBOX_VAULT_SCOPE_GROUP_ID: z.string().regex(/^$|^[0-9a-fA-F-]{36}$/, 'must be a group object id (GUID)'),
  MAILBOX_VAULT_BACKUP_ARCHIVES: z.enum(['true', 'false']),
  MAILBOX_VAULT_BACKUP_RECOVERABLE_ITEMS: z.enum(['true', 'false']),
  MAILBOX_VAULT_MAILBOX_WAVE_SIZE: z.coerce.number().int().min(1).max(200),
  MAILBOX_VAULT_EXPORT_CONCURRENCY: z.coerce.number().int().min(1).max(4),
  MAILBOX_VAULT_EXPORT_BATCH_MB: z.coerce.number().min(1).max(1024),
  MAILBOX_VAULT_IMPORT_CONCURRENCY: z.coerce.number().int().min(1).max(4),
  MAILBOX_VAULT_IMPORT_SETTLE_SECONDS: z.coerce.number().min(0).max(120),
  MAILBOX_VAULT_STAGING_MAILBOX: z.string().regex(/^$|^[^@\s]+@[^@\s]+$/, 'must be the UPN of a shared mailbox'),
  MAILBOX_VAULT_DOWNLOAD_LINK_HOURS: z.coerce
    .number()
    .min(1)
    .max(24 * 30),
  MAILBOX_VAULT_RETENTION_KEEP_ALL_DAYS: z.coerce.number().int().min(0).max(3650),
  MAILBOX_VAULT_RETENTION_DAILY_DAYS: z.coerce.number().int().min(0).max(3650),
  MAILBOX_VAULT_RETENTION_WEEKLY_WEEKS: z.coerce.number().int().min(0).max(520),
  MAILBOX_VAULT_RETENTION_MONTHLY_MONTHS: z.coerce.number().int().min(0).max(1200),
  MAILBOX_VAULT_MAINTENANCE_SCHEDULE: z
    .string()
    .refine(isNcrontab, 'must be a six-field NCRONTAB expression, such as 0 30 5 * * *'),
  MAILBOX_VAULT_VERIFY_SAMPLE: z.coerce.number().int().min(1).max(100_000),
  MAILBOX_VAULT_WINDOWS_PER_EPISODE: z.coerce.number().int().min(1).max(500),
  MAILBOX_VAULT_PLAN_SLICE_ITEMS: z.coerce.number().int().min(1).max(10_000_000),
  MAILBOX_VAULT_COMMIT_SLICE_RECORDS: z.coerce.number().int().min(1).max(100_000_000),
  MAILBOX_VAULT_RESTORE_PLAN_SLICE_ITEMS: z.coerce.number().int().min(1).max(100_000_000),
});

function isNcrontab(value: string): boolean {
  if (value.trim().split(/\s+/).length !== 6) return false;
  try {
    new Cron(value, { paused: true });
    return true;
  } catch {
    return false;
  }
}

type RawSettings = z.infer<typeof Raw>;

/** Reads and validates the app's settings from the environment (app settings in Azure, local.settings.json locally). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw = parseSettings(env);
  const problems: string[] = [];
  const credential = graphCredential(raw, problems);
  const storage = storageConfig(raw, problems);
  if (problems.length) throw new ConfigError(problems);
  return assembleConfig(raw, credential, storage);
}

/** Every setting, defaults filled in, each checked on its own; a ConfigError names every bad one. */
function parseSettings(env: NodeJS.ProcessEnv): RawSettings {
  const input = Object.fromEntries(
    (Object.keys(SETTINGS) as SettingName[]).map((name) => {
      const value = env[name];
      return [name, value === undefined || value.trim() === '' ? SETTINGS[name].default : value.trim()];
    }),
  );
  const parsed = Raw.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map(
      (issue) => `${String(issue.path[0])}: ${issue.message} (got '${String(input[String(issue.path[0])] ?? '')}')`,
    ),
  );
}

/** How the app authenticates to Graph, and the settings that kind needs. */
function graphCredential(raw: RawSettings, problems: string[]): GraphConfig['credential'] {
  const miClientId = raw.MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID || undefined;
  const kind = raw.MAILBOX_VAULT_GRAPH_CREDENTIAL;
  if (kind === 'managedIdentity')
    return miClientId ? { kind, managedIdentityClientId: miClientId } : { kind: 'managedIdentity' };
  if (kind === 'staticToken') {
    if (!raw.MAILBOX_VAULT_GRAPH_STATIC_TOKEN)
      problems.push("MAILBOX_VAULT_GRAPH_STATIC_TOKEN: required when MAILBOX_VAULT_GRAPH_CREDENTIAL is 'staticToken'");
    if (new URL(raw.MAILBOX_VAULT_GRAPH_BASE_URL).hostname.endsWith('graph.microsoft.com')) {
      problems.push(
        "MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken' is for the simulator only; use a managed identity or a Key Vault credential for Microsoft Graph",
      );
    }
    return { kind, token: raw.MAILBOX_VAULT_GRAPH_STATIC_TOKEN };
  }
  for (const name of ['MAILBOX_VAULT_TENANT_ID', 'MAILBOX_VAULT_CLIENT_ID', 'MAILBOX_VAULT_KEY_VAULT_URL'] as const) {
    if (!raw[name]) problems.push(`${name}: required when MAILBOX_VAULT_GRAPH_CREDENTIAL is '${kind}'`);
  }
  if (raw.MAILBOX_VAULT_KEY_VAULT_URL && !/^https:\/\/[^/]+\/?$/.test(raw.MAILBOX_VAULT_KEY_VAULT_URL)) {
    problems.push(
      `MAILBOX_VAULT_KEY_VAULT_URL: must be the vault's https URL, such as https://my-vault.vault.azure.net (got '${raw.MAILBOX_VAULT_KEY_VAULT_URL}')`,
    );
  }
  return {
    kind,
    tenantId: raw.MAILBOX_VAULT_TENANT_ID,
    clientId: raw.MAILBOX_VAULT_CLIENT_ID,
    authorityHost: new URL(raw.MAILBOX_VAULT_AUTHORITY_HOST).origin,
    keyVaultUrl: raw.MAILBOX_VAULT_KEY_VAULT_URL,
    secretName: raw.MAILBOX_VAULT_GRAPH_SECRET_NAME,
    ...(miClientId ? { managedIdentityClientId: miClientId } : {}),
  };
}

/** The vault's storage account: by URL and identity in Azure, or a connection string for Azurite. */
function storageConfig(raw: RawSettings, problems: string[]): AppConfig['storage'] {
  const accountUrl = raw.MAILBOX_VAULT_STORAGE_ACCOUNT_URL || undefined;
  const connectionString = raw.MAILBOX_VAULT_STORAGE_CONNECTION_STRING || undefined;
  const miClientId = raw.MAILBOX_VAULT_MANAGED_IDENTITY_CLIENT_ID || undefined;
  if (!accountUrl && !connectionString) {
    problems.push(
      'MAILBOX_VAULT_STORAGE_ACCOUNT_URL: required (or MAILBOX_VAULT_STORAGE_CONNECTION_STRING for Azurite)',
    );
  }
  if (accountUrl && connectionString) {
    problems.push(
      'MAILBOX_VAULT_STORAGE_CONNECTION_STRING: set either it or MAILBOX_VAULT_STORAGE_ACCOUNT_URL, not both',
    );
  }
  if (accountUrl && !httpsOrLoopback(accountUrl)) {
    problems.push(`MAILBOX_VAULT_STORAGE_ACCOUNT_URL: must be an https URL (got '${accountUrl}')`);
  }
  return {
    ...(accountUrl ? { accountUrl } : {}),
    ...(connectionString ? { connectionString } : {}),
    containerName: raw.MAILBOX_VAULT_CONTAINER,
    ...(miClientId ? { managedIdentityClientId: miClientId } : {}),
  };
}

function listOf(value: string): string[] {
  return value
    .split(/[,;\s]+/)
    .map((u) => u.trim())
    .filter(Boolean);
}

function accessConfig(raw: RawSettings): AccessConfig {
  const targets = listOf(raw.MAILBOX_VAULT_RESTORE_TARGETS).map((t) => t.toLowerCase());
  const accountUrl = raw.MAILBOX_VAULT_AUDIT_ACCOUNT_URL || undefined;
  return {
    selfService: raw.MAILBOX_VAULT_SELF_SERVICE === 'true',
    restoreTargets: targets.length ? targets : null,
    audit: { ...(accountUrl ? { accountUrl } : {}), containerName: raw.MAILBOX_VAULT_AUDIT_CONTAINER },
  };
}

function assembleConfig(
  raw: RawSettings,
  credential: GraphConfig['credential'],
  storage: AppConfig['storage'],
): AppConfig {
  const uploadMb = raw.MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN;
  const uploadWindowMs = raw.MAILBOX_VAULT_GRAPH_UPLOAD_WINDOW_MS;
  return {
    graph: {
      baseUrl: raw.MAILBOX_VAULT_GRAPH_BASE_URL.replace(/\/+$/, ''),
      apiVersion: raw.MAILBOX_VAULT_GRAPH_API_VERSION,
      credential,
      maxConcurrentRequestsPerMailbox: raw.MAILBOX_VAULT_GRAPH_MAX_CONCURRENCY,
      requestTimeoutInMs: raw.MAILBOX_VAULT_GRAPH_TIMEOUT_MS,
      maxRetries: raw.MAILBOX_VAULT_GRAPH_MAX_RETRIES,
      retryBaseDelayInMs: raw.MAILBOX_VAULT_GRAPH_RETRY_BASE_MS,
      uploadBudget:
        uploadMb > 0
          ? { bytes: (uploadMb * 1024 * 1024 * uploadWindowMs) / (5 * 60_000), windowMs: uploadWindowMs }
          : null,
      logRetries: raw.MAILBOX_VAULT_GRAPH_LOG === 'warnings',
    },
    storage,
    access: accessConfig(raw),
    taskHub: raw.MAILBOX_VAULT_TASK_HUB,
    backup: {
      schedule: raw.MAILBOX_VAULT_BACKUP_SCHEDULE,
      scope: {
        users: raw.MAILBOX_VAULT_SCOPE_USERS.split(/[,;\s]+/)
          .map((u) => u.trim())
          .filter(Boolean),
        ...(raw.MAILBOX_VAULT_SCOPE_GROUP_ID ? { groupId: raw.MAILBOX_VAULT_SCOPE_GROUP_ID } : {}),
      },
      waveSize: raw.MAILBOX_VAULT_MAILBOX_WAVE_SIZE,
      exportConcurrency: raw.MAILBOX_VAULT_EXPORT_CONCURRENCY,
      batchReportedBytes: Math.round(raw.MAILBOX_VAULT_EXPORT_BATCH_MB * 1024 * 1024),
      windowsPerEpisode: raw.MAILBOX_VAULT_WINDOWS_PER_EPISODE,
      planSliceItems: raw.MAILBOX_VAULT_PLAN_SLICE_ITEMS,
      commitSliceRecords: raw.MAILBOX_VAULT_COMMIT_SLICE_RECORDS,
      archives: raw.MAILBOX_VAULT_BACKUP_ARCHIVES === 'true',
      recoverableItems: raw.MAILBOX_VAULT_BACKUP_RECOVERABLE_ITEMS === 'true',
    },
    restore: {
      importConcurrency: raw.MAILBOX_VAULT_IMPORT_CONCURRENCY,
      importSettleInMs: Math.round(raw.MAILBOX_VAULT_IMPORT_SETTLE_SECONDS * 1000),
      planSliceItems: raw.MAILBOX_VAULT_RESTORE_PLAN_SLICE_ITEMS,
    },
    download: {
      ...(raw.MAILBOX_VAULT_STAGING_MAILBOX ? { stagingMailbox: raw.MAILBOX_VAULT_STAGING_MAILBOX } : {}),
      linkLifetimeInMs: raw.MAILBOX_VAULT_DOWNLOAD_LINK_HOURS * 3_600_000,
    },
    maintenance: {
      retention: {
        keepAllDays: raw.MAILBOX_VAULT_RETENTION_KEEP_ALL_DAYS,
        dailyDays: raw.MAILBOX_VAULT_RETENTION_DAILY_DAYS,
        weeklyWeeks: raw.MAILBOX_VAULT_RETENTION_WEEKLY_WEEKS,
        monthlyMonths: raw.MAILBOX_VAULT_RETENTION_MONTHLY_MONTHS,
      },
      schedule: raw.MAILBOX_VAULT_MAINTENANCE_SCHEDULE,
      verifySample: raw.MAILBOX_VAULT_VERIFY_SAMPLE,
    },
  };
}
