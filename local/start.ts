/**
 * `npm start`: the whole app on this machine. With no tenant configured it starts the Exchange Online
 * simulator's demo tenant; with no storage configured, an embedded Azurite (data under .local-data/). Then the
 * in-process Durable host serves the Functions app on http://127.0.0.1:7071 (as `func start` would), runs a
 * first backup at once with progress on the terminal, and keeps serving (the timer fires on its schedule).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Cron } from 'croner';
import { startAzurite, type RunningAzurite } from './azurite.js';
import { BlobTaskHub, taskHubContainerName } from './host/blobTaskHub.js';
import { LOCAL_OPERATOR, type LocalSignIn } from './host/easyAuth.js';
import { entraIssuer } from './entraIssuer.js';
import { startLocalApp, type LocalApp } from './host/localApp.js';
import { applyLocalSettingsFile } from './settingsFile.js';
import {
  DEMO_TENANT,
  MAILBOX_VAULT_API_RESOURCE,
  SimTenant,
  seedTenant,
  startSimulator,
  type Simulator,
} from './simulator/index.js';
import { ROLES } from '../shared/access/roles.js';
import { loadConfig, ConfigError, SETTINGS, type AppConfig } from '../shared/config.js';
import { createBlobServiceClient } from '../shared/credentials.js';
import type { RunReport } from '../shared/backup/types.js';

const root = process.cwd();

interface BackupStatus {
  status: string;
  report?: RunReport;
  reportBlob?: string;
  error?: string;
}

async function main(): Promise<void> {
  applySettingsFile();
  const simulator = process.env.MAILBOX_VAULT_GRAPH_BASE_URL ? undefined : await startDemoTenant();
  const azurite = await startStorageIfUnconfigured();
  process.env.MAILBOX_VAULT_GRAPH_LOG ??= 'quiet';
  const config = loadConfigOrExit();
  const app = await serveApp(config, signInFor(simulator));
  stopOnSignals(app, simulator, azurite);
  if (process.env.MAILBOX_VAULT_START_BACKUP !== 'false') await runFirstBackup(app, config);
  printNextScheduledBackup(config);
}

function applySettingsFile(): void {
  const count = applyLocalSettingsFile(root);
  if (count !== undefined) console.log(`Settings from local.settings.json (${count} values; the environment wins)`);
}

/** The simulator's demo tenant, and the settings that point the app at it. */
async function startDemoTenant(): Promise<Simulator> {
  const tenant = seedTenant(new SimTenant({ seed: 1 }), DEMO_TENANT);
  const port = Number(process.env.SIM_PORT ?? 7400);
  const simulator = await startSimulator({
    tenant,
    port: (await portIsFree(port)) ? port : 0,
    latencyMs: 20,
    latencyJitterMs: 30,
    // Entra ID over TLS: automation signs in to the API with @azure/identity, as it would in Azure.
    https: true,
    clients: DEMO_API_CLIENTS,
  });
  process.env.MAILBOX_VAULT_GRAPH_BASE_URL = simulator.baseUrl;
  process.env.MAILBOX_VAULT_GRAPH_CREDENTIAL = 'staticToken';
  process.env.MAILBOX_VAULT_GRAPH_STATIC_TOKEN = simulator.demoToken;
  process.env.MAILBOX_VAULT_SCOPE_USERS ||= [
    ...DEMO_TENANT.mailboxes.map((m) => m.upn),
    ...(DEMO_TENANT.usersWithoutMailbox ?? []),
  ].join(',');
  console.log(
    `No tenant configured: the simulated demo tenant is at ${simulator.baseUrl} (${tenant.mailboxes.size} mailboxes)`,
  );
  return simulator;
}

/** One app registration per role, so each can be tried locally (README: "Trying each role locally"). */
const DEMO_API_CLIENTS = (['reader', 'operator', 'restorer'] as const).map((role) => ({
  clientId: `mailbox-vault-${role}`,
  clientSecret: `local-${role}-secret`,
  apiRoles: [ROLES[role]],
}));

/**
 * Who calls the API: the local operator (every role) when a request carries no token; with the simulator, also
 * the bearer tokens its Entra ID issues for the API, validated as Easy Auth validates them.
 */
function signInFor(simulator: Simulator | undefined): LocalSignIn {
  console.log(
    `Signed in as ${LOCAL_OPERATOR.name} ${LOCAL_OPERATOR.upn} (${LOCAL_OPERATOR.roles.join(', ')}) for requests without a token`,
  );
  const https = simulator?.https;
  if (!simulator || !https) return { operator: LOCAL_OPERATOR };
  const caFile = join(root, '.local-data', 'simulator-ca.pem');
  mkdirSync(join(root, '.local-data'), { recursive: true });
  writeFileSync(caFile, https.caCertificatePem);
  const tenantId = simulator.tenant.tenantId;
  console.log(
    `Tokens for ${MAILBOX_VAULT_API_RESOURCE} from ${https.authorityHost}/${tenantId} are accepted (CA: .local-data/simulator-ca.pem); clients ${DEMO_API_CLIENTS.map((c) => c.clientId).join(', ')}`,
  );
  return {
    operator: LOCAL_OPERATOR,
    issuer: entraIssuer({
      authorityHost: https.authorityHost,
      tenantId,
      audience: MAILBOX_VAULT_API_RESOURCE,
      ca: https.caCertificatePem,
    }),
  };
}

/** With no storage or development storage configured: an embedded Azurite, unless one already listens. */
async function startStorageIfUnconfigured(): Promise<RunningAzurite | undefined> {
  const storage = process.env.MAILBOX_VAULT_STORAGE_CONNECTION_STRING;
  if (process.env.MAILBOX_VAULT_STORAGE_ACCOUNT_URL || (storage && storage !== 'UseDevelopmentStorage=true')) return;
  let azurite: RunningAzurite | undefined;
  if (await portIsFree(10000)) {
    azurite = await startAzurite({ location: join(root, '.local-data', 'azurite'), blobPort: 10000 });
    console.log(`Embedded Azurite at ${azurite.blobEndpoint} (data in .local-data/azurite)`);
  } else console.log('Using the Azurite already listening on port 10000');
  process.env.MAILBOX_VAULT_STORAGE_CONNECTION_STRING = azurite?.connectionString ?? 'UseDevelopmentStorage=true';
  return azurite;
}

function loadConfigOrExit(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
}

async function serveApp(config: AppConfig, signIn: LocalSignIn): Promise<LocalApp> {
  // Orchestrations live in the vault's storage account, so a killed app resumes them when started again.
  const hubContainer = taskHubContainerName(config.storage.containerName);
  const taskHub = new BlobTaskHub(createBlobServiceClient(config.storage).getContainerClient(hubContainer));
  const app = await startLocalApp({
    port: Number(process.env.PORT ?? 7071),
    scheduleTimers: true,
    taskHub,
    signIn,
    log: (level, name, ...args) => {
      if (level === 'warning' || level === 'error') console.error(`[${name}] ${args.map(String).join(' ')}`);
    },
  });
  const { scope } = config.backup;
  const { instances, resumed } = app.recovered;
  console.log(
    `Orchestrations are kept in container '${hubContainer}': ${instances} found, ${resumed} unfinished resumed`,
  );
  console.log(`mailbox-vault is serving on ${app.baseUrl}  (POST /api/backups, GET /api/backups/{id})`);
  console.log(
    `Portal: ${app.baseUrl}/api/portal/  (opens as the local operator; ${app.baseUrl}/.auth/login/aad signs in as another user)`,
  );
  console.log(
    `Vault container '${config.storage.containerName}'; scope: ${scope.users.length} mailbox(es)${scope.groupId ? ' + group ' + scope.groupId : ''}`,
  );
  return app;
}

function stopOnSignals(app: LocalApp, simulator?: Simulator, azurite?: RunningAzurite): void {
  const shutdown = async () => {
    console.log('\nStopping…');
    await app.close();
    await simulator?.close();
    await azurite?.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

async function runFirstBackup(app: LocalApp, config: AppConfig): Promise<void> {
  const started = await fetch(`${app.baseUrl}/api/backups`, { method: 'POST' });
  const { id } = (await started.json()) as { id: string };
  console.log(`First backup ${id} started`);
  const stopProgress = showProgress(app, id);
  await app.host.waitForCompletion(id);
  stopProgress();
  const status = (await (await fetch(`${app.baseUrl}/api/backups/${id}`)).json()) as BackupStatus;
  printBackupResult(app, config, id, status);
}

/** A progress line every half second while the backup runs (rewritten in place on a terminal); returns its stop. */
function showProgress(app: LocalApp, backupId: string): () => void {
  const tty = process.stdout.isTTY;
  let last = '';
  const timer = setInterval(() => {
    const line = progressLine(app, backupId);
    if (line === last) return;
    last = line;
    if (tty) process.stdout.write(`\r${line}`);
    else console.log(line);
  }, 500);
  return () => {
    clearInterval(timer);
    if (tty) process.stdout.write('\n');
  };
}

function progressLine(app: LocalApp, backupId: string): string {
  const mailboxes = app.host
    .listInstances()
    .filter((i) => i.name === 'backupMailbox' && i.instanceId.startsWith(`${backupId}-`));
  let done = 0;
  let total = 0;
  for (const m of mailboxes) {
    const s = (m.customStatus ?? {}) as { batchesDone?: number; batchCount?: number };
    done += m.runtimeStatus === 'Completed' ? (s.batchCount ?? 0) : (s.batchesDone ?? 0);
    total += s.batchCount ?? 0;
  }
  const finished = mailboxes.filter((m) => m.runtimeStatus === 'Completed').length;
  return `  ${bar(done, total)} ${done}/${total} export batches, ${finished}/${mailboxes.length} mailboxes done`;
}

function printBackupResult(app: LocalApp, config: AppConfig, id: string, status: BackupStatus): void {
  const report = status.report;
  if (!report) {
    console.log(`Backup ${id}: ${status.status} ${status.error ?? ''}`);
    return;
  }
  console.log(`Backup ${id}: ${report.status}`);
  for (const m of report.mailboxes) {
    console.log(
      `  ${m.status.padEnd(19)} ${`${m.upn}${m.archiveOf ? ' (archive)' : ''}`.padEnd(32)} ${String(m.items.inSnapshot).padStart(6)} items in snapshot, ${m.items.exported} exported, ${m.items.failed} failed`,
    );
  }
  for (const warning of report.warnings) console.log(`  warning: ${warning}`);
  if (report.archives?.reason) console.log(`  note: ${report.archives.reason}`);
  console.log(
    `Report: blob '${status.reportBlob}' in container '${config.storage.containerName}', and ${app.baseUrl}/api/backups/${id}`,
  );
  if (report.status !== 'Completed') process.exitCode = 1;
}

function printNextScheduledBackup(config: AppConfig): void {
  const next = new Cron(config.backup.schedule || SETTINGS.MAILBOX_VAULT_BACKUP_SCHEDULE.default, {
    paused: true,
    timezone: 'UTC',
  }).nextRun();
  console.log(
    `Next scheduled backup: ${next?.toISOString() ?? 'never'} (MAILBOX_VAULT_BACKUP_SCHEDULE). Ctrl+C stops.`,
  );
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function bar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
