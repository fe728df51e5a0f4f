import { BlobServiceClient } from '@azure/storage-blob';
import { BlobTaskHub, taskHubContainerName } from '../../local/host/blobTaskHub.js';
import { startLocalApp, type LocalApp } from '../../local/host/localApp.js';
import { resetServices } from '../../shared/services.js';
import type { RunReport } from '../../shared/backup/types.js';
import type { RestoreReport } from '../../shared/restore/types.js';

/**
 * The app in this process (the process whose CPU and memory we measure), through the same code as production,
 * with its orchestrations kept in a task hub on the bench's Azurite as `npm start` keeps them. With
 * `releaseFinishedChildren` the local host lets go of finished sub-orchestrations' histories (see DurableHostOptions).
 */
export async function withApp<T>(
  env: Record<string, string>,
  work: (app: LocalApp) => Promise<T>,
  options: { releaseFinishedChildren?: boolean } = {},
): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  resetServices();
  const storage = BlobServiceClient.fromConnectionString(env.MAILBOX_VAULT_STORAGE_CONNECTION_STRING!);
  const taskHub = new BlobTaskHub(storage.getContainerClient(taskHubContainerName(env.MAILBOX_VAULT_CONTAINER!)));
  const app = await startLocalApp({ port: 0, clock: 'virtual', maxConcurrentActivities: 64, taskHub, ...options });
  try {
    return await work(app);
  } finally {
    await app.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    resetServices();
  }
}

async function call(
  app: LocalApp,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Starts a backup or restore through the HTTP API, waits for its orchestration, and returns its report. */
async function runToReport<R>(
  app: LocalApp,
  collection: 'backups' | 'restores',
  body: unknown,
): Promise<{ id: string; report: R; wallMs: number }> {
  const started = Date.now();
  const response = await call(app, 'POST', `/api/${collection}`, body);
  if (response.status !== 202) throw new Error(`${collection} did not start: ${JSON.stringify(response.body)}`);
  const id = String(response.body.id);
  await app.host.waitForCompletion(id);
  const wallMs = Date.now() - started;
  const status = await call(app, 'GET', `/api/${collection}/${id}`);
  return { id, report: status.body.report as R, wallMs };
}

export const backup = (app: LocalApp, body?: unknown) => runToReport<RunReport>(app, 'backups', body);
export const restore = (app: LocalApp, body: unknown) => runToReport<RestoreReport>(app, 'restores', body);
