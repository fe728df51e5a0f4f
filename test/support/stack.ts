import { randomBytes } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { LocalSignIn } from '../../local/host/easyAuth.js';
import { startLocalApp, type LocalApp } from '../../local/host/localApp.js';
import type { Simulator, SimulatorOptions, TenantSeed } from '../../local/simulator/index.js';
import { resetServices } from '../../shared/services.js';
import { VaultStore } from '../../shared/vault/vaultStore.js';
import { startSeededSimulator } from './graph.js';
import { azuriteConnectionString } from './vault.js';

export interface Stack {
  sim: Simulator;
  app: LocalApp;
  vault: VaultStore;
  /** The audit trail's container (its own, beside the vault's). */
  audit: ContainerClient;
  env: Record<string, string>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The same with request headers: a bearer token, or headers a caller should not be able to set. */
  apiWith(
    headers: Record<string, string>,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/**
 * The whole product on loopback: the simulator with a seeded tenant, a fresh vault container on the shared
 * Azurite, and the app loaded by the local host (virtual clock, so Durable retry timers do not slow tests).
 */
export async function startStack(
  seed: TenantSeed,
  options: {
    simulator?: SimulatorOptions;
    settings?: Record<string, string>;
    maxConcurrentActivities?: number;
    log?: (level: string, functionName: string, ...args: unknown[]) => void;
    /** Who callers are (default: the local operator, every role, for requests without a token). */
    signIn?: LocalSignIn;
    /** The host plays the CLI run in-process: it cannot tell that an instance it never started does not exist. */
    knowsOnlyItsOwnInstances?: boolean;
  } = {},
): Promise<Stack> {
  // Exchange's upload budget ×10, in the simulator and in the app's pacing alike, so restores of a few MB stay quick.
  const sim = await startSeededSimulator(seed, {
    ...options.simulator,
    limits: { uploadBudget: { bytes: 1500 * 1024 * 1024, windowMs: 5 * 60_000 }, ...options.simulator?.limits },
  });
  const container = `vault-${randomBytes(6).toString('hex')}`;
  const env: Record<string, string> = {
    MAILBOX_VAULT_GRAPH_BASE_URL: sim.baseUrl,
    MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
    MAILBOX_VAULT_GRAPH_STATIC_TOKEN: sim.demoToken,
    MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
    MAILBOX_VAULT_CONTAINER: container,
    MAILBOX_VAULT_AUDIT_CONTAINER: `${container}-audit`,
    MAILBOX_VAULT_SCOPE_USERS: seed.mailboxes
      .map((m) => m.upn)
      .concat(seed.usersWithoutMailbox ?? [])
      .join(','),
    MAILBOX_VAULT_GRAPH_RETRY_BASE_MS: '5',
    MAILBOX_VAULT_GRAPH_LOG: 'quiet',
    MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: '1500',
    // The simulator commits no import late unless a test scripts it: a short settle keeps resumed batches quick.
    MAILBOX_VAULT_IMPORT_SETTLE_SECONDS: '0.05',
    ...options.settings,
  };
  Object.assign(process.env, env);
  resetServices();
  const app = await startLocalApp({
    port: 0,
    clock: 'virtual',
    maxConcurrentActivities: options.maxConcurrentActivities ?? 8,
    ...(options.log ? { log: options.log } : {}),
    ...(options.signIn ? { signIn: options.signIn } : {}),
    ...(options.knowsOnlyItsOwnInstances ? { knowsOnlyItsOwnInstances: true } : {}),
  });
  const service = BlobServiceClient.fromConnectionString(azuriteConnectionString());
  const vault = new VaultStore(service, container);
  const apiWith: Stack['apiWith'] = async (headers, method, path, body) => {
    const response = await fetch(`${app.baseUrl}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    // A file (an EML, an MBOX) is no JSON: its text is the body.
    const json = response.headers.get('content-type')?.includes('json') ?? false;
    return { status: response.status, body: text ? (json ? JSON.parse(text) : text) : undefined };
  };
  return {
    sim,
    app,
    vault,
    audit: service.getContainerClient(`${container}-audit`),
    env,
    api: (method, path, body) => apiWith({}, method, path, body),
    apiWith,
    async close() {
      await app.close();
      await sim.close();
      for (const key of Object.keys(env)) delete process.env[key];
      resetServices();
      // The suite shares one in-memory Azurite, which slows as it fills: what a file wrote goes with it.
      await Promise.all(
        [container, `${container}-audit`].map((name) => service.getContainerClient(name).deleteIfExists()),
      ).catch(() => undefined);
    },
  };
}

/** Starts a backup or restore through the HTTP API, waits for its orchestration, and returns the final GET body. */
async function runToEnd(
  stack: Stack,
  collection: 'backups' | 'restores',
  body: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ id: string; status: any }> {
  const started = await stack.api('POST', `/api/${collection}`, body);
  if (started.status !== 202)
    throw new Error(`${collection} did not start: ${started.status} ${JSON.stringify(started.body)}`);
  const id = started.body.id as string;
  await stack.app.host.waitForCompletion(id);
  const status = await stack.api('GET', `/api/${collection}/${id}`);
  return { id, status: status.body };
}

export const runBackup = (stack: Stack, body?: unknown) => runToEnd(stack, 'backups', body);
export const runRestore = (stack: Stack, body: unknown) => runToEnd(stack, 'restores', body);
