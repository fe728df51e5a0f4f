import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import type { SimMailbox, Simulator } from '../../local/simulator/index.js';
import { renderMime } from '../../local/simulator/mime.js';
import type { RunReport } from '../../shared/backup/types.js';
import { isDownloadableClass } from '../../shared/download/itemKinds.js';
import { parseStagingFolderName } from '../../shared/download/staging.js';
import type { DownloadReport } from '../../shared/download/types.js';
import { verifyMailbox } from '../../shared/maintenance/verify.js';
import type { RestoreReport } from '../../shared/restore/types.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import { VaultStore } from '../../shared/vault/vaultStore.js';
import { startAppProcess, type AppProcess } from '../support/appProcess.js';
import { readMboxrd, readZip } from '../support/archives.js';
import { startSeededSimulator } from '../support/graph.js';
import { azuriteConnectionString } from '../support/vault.js';

/**
 * The kill test: the real app process (local/start.ts, as `npm start` runs it) is killed with SIGKILL in the
 * middle of a backup, again in the middle of a restore, and again in the middle of a download, at the Nth Graph
 * request the simulator receives (N drawn from the seed), then started again on the same Azurite and simulator,
 * which run outside it. Each run resumes from the local task hub and finishes; then every committed snapshot passes
 * a full verify, the restore target holds each item of the source exactly once (by search key and content digest)
 * or the report names it, every item the backup did not store is named in its report, and the download's file
 * (fetched through the app's route) holds each message of the source once, byte for byte, or its report names it,
 * with nothing left in the staging mailbox.
 *
 * `npm test` runs one seed; `KILL_SEEDS=20` (as .ci/run does after `npm test`) sweeps twenty.
 */

const SEEDS = Number(process.env.KILL_SEEDS ?? 1);
/** `KILL_FIRST_SEED=4 KILL_SEEDS=1` reruns one seed the sweep reported. */
const FIRST_SEED = Number(process.env.KILL_FIRST_SEED ?? 1);
/** How long one operation may take after its (re)start: generous, the sweep shares two cores with other sweeps. */
const OPERATION_TIMEOUT_MS = 150_000;
/** A start compiles the app through tsx; on a loaded machine that alone can take a minute. */
const APP_START_TIMEOUT_MS = 120_000;
const SOURCE = 'ana@contoso.example';
const OTHER = 'ben@contoso.example';
/** The shared mailbox downloads convert through; out of the backup's scope. */
const STAGING = 'vault-staging@contoso.example';
/** An empty mailbox per seed, each seed's restore target. */
const targetOf = (seed: number) => `restored-${seed}@contoso.example`;

let sim: Simulator;
/** Every app process a seed started: a seed that fails or times out must not leave one running into the next. */
const appsOfSeed: AppProcess[] = [];
/** Runs once the simulator has received this many more Graph requests (then it is cleared). */
let killAt: { remaining: number; kill: () => void } | undefined;

beforeAll(async () => {
  sim = await startSeededSimulator(
    {
      mailboxes: [
        { upn: SOURCE, items: 40, sizes: [2_000, 12_000] },
        { upn: OTHER, items: 25, sizes: [2_000, 8_000] },
        ...Array.from({ length: SEEDS }, (_, i) => ({ upn: targetOf(FIRST_SEED + i), items: 0 })),
        { upn: STAGING, kind: 'shared', items: 0 },
      ],
    },
    { latencyMs: 5, latencyJitterMs: 10 },
  );
  observeGraphRequests(sim, () => {
    if (killAt && --killAt.remaining <= 0) {
      const { kill } = killAt;
      killAt = undefined;
      kill();
    }
  });
});
afterAll(() => sim.close());
afterEach(async () => {
  killAt = undefined;
  await Promise.all(appsOfSeed.splice(0).map((app) => app.kill()));
});

/** Starts the app for this seed, remembered so that afterEach stops it whatever happened. */
async function startApp(container: string, seed: number): Promise<AppProcess> {
  const app = await startAppProcess(appEnv(container, seed), APP_START_TIMEOUT_MS);
  appsOfSeed.push(app);
  return app;
}

/**
 * Calls `onRequest` synchronously as each Graph request arrives, before the simulator answers it: the
 * simulator counts requests per client in this map, so its `set` is where a request is first seen.
 */
function observeGraphRequests(simulator: Simulator, onRequest: () => void): void {
  const counts = simulator.graphRequestsByClient as Map<string, number>;
  const set = counts.set.bind(counts);
  counts.set = (client, count) => {
    onRequest();
    return set(client, count);
  };
}

/** A small deterministic generator (mulberry32), so a seed names its kill points. */
function randomFor(seed: number): (min: number, max: number) => number {
  let state = seed * 0x9e3779b9;
  return (min, max) => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return min + (((t ^ (t >>> 14)) >>> 0) % (max - min + 1));
  };
}

/** The seed's restore target is in scope too: the restore policy refuses targets outside it. */
function appEnv(container: string, seed: number): Record<string, string> {
  return {
    MAILBOX_VAULT_GRAPH_BASE_URL: sim.baseUrl,
    MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
    MAILBOX_VAULT_GRAPH_STATIC_TOKEN: sim.demoToken,
    MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
    MAILBOX_VAULT_CONTAINER: container,
    MAILBOX_VAULT_SCOPE_USERS: `${SOURCE},${OTHER},${targetOf(seed)}`,
    MAILBOX_VAULT_STAGING_MAILBOX: STAGING,
    MAILBOX_VAULT_GRAPH_RETRY_BASE_MS: '5',
    MAILBOX_VAULT_GRAPH_LOG: 'quiet',
    MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: '1500',
    MAILBOX_VAULT_EXPORT_CONCURRENCY: '2',
    MAILBOX_VAULT_IMPORT_CONCURRENCY: '2',
    MAILBOX_VAULT_IMPORT_SETTLE_SECONDS: '0.05',
  };
}

/** What GET /api/backups/{id}, /api/restores/{id} and /api/downloads/{id} answer (the part read here). */
interface OperationStatus {
  id: string;
  runtimeStatus: string;
  report?: unknown;
}

async function api(app: AppProcess, method: string, path: string, body?: unknown) {
  const response = await fetch(`${app.baseUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as OperationStatus | undefined };
}

/**
 * Starts the operation (on `running`, else on an app started for it), SIGKILLs the app at the `killAfter`th Graph
 * request, starts the app again on the same storage and simulator, and waits there for the operation's end.
 * Returns the restarted app and the final body.
 */
async function runThroughKill(
  container: string,
  seed: number,
  collection: 'backups' | 'restores' | 'downloads',
  request: unknown,
  killAfter: number,
  running?: AppProcess,
): Promise<{ app: AppProcess; body: OperationStatus | undefined; killed: boolean }> {
  const first = running ?? (await startApp(container, seed));
  let killed = false;
  // Counted from the 202 on: the request itself asks Graph too (the restore policy looks the mailboxes up), and a
  // kill before it is answered would be a request never made, not an operation interrupted.
  const started = await api(first, 'POST', `/api/${collection}`, request);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const id = started.body!.id;
  const died = new Promise<void>((resolve) => {
    killAt = { remaining: killAfter, kill: () => void first.kill().then(() => ((killed = true), resolve())) };
  });
  const app = await Promise.race([died.then(() => undefined), waitForEnd(first, collection, id)]).then(async (ended) =>
    ended ? first : startApp(container, seed),
  );
  if (app !== first) expect(app.output()).toMatch(/[1-9]\d* unfinished resumed/);
  killAt = undefined;
  return { app, body: await waitForEnd(app, collection, id), killed };
}

/**
 * Polls the operation's status until it has ended; undefined if the app died meanwhile. Gives up well before the
 * test's own timeout, naming the last status and what the app printed, so a run that never ends says where it stood.
 */
async function waitForEnd(app: AppProcess, collection: string, id: string): Promise<OperationStatus | undefined> {
  const deadline = Date.now() + OPERATION_TIMEOUT_MS;
  for (;;) {
    const status = await api(app, 'GET', `/api/${collection}/${id}`).catch(() => undefined);
    if (!status) return undefined;
    if (status.status === 404) throw new Error(`The restarted app does not know ${collection}/${id}: ${app.output()}`);
    if (['Completed', 'Failed', 'Terminated'].includes(status.body?.runtimeStatus ?? '')) return status.body;
    if (Date.now() > deadline) {
      const last = JSON.stringify(status.body);
      throw new Error(
        `${collection}/${id} had not ended: ${last}\n--- app output (end) ---\n${app.output().slice(-4000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Each item of the source, imported into the target once (search key + digest) or named among the failures. */
async function expectRestoredOnce(vault: VaultStore, report: RestoreReport, sourceUpn: string, targetUpn: string) {
  const source = sim.tenant.mailbox(sourceUpn);
  const copies = new Map<string, number>();
  for (const item of sim.tenant.mailbox(targetUpn).items.values()) {
    const key = `${item.spec.searchKey.toString('base64')} ${item.importedDigest}`;
    copies.set(key, (copies.get(key) ?? 0) + 1);
  }
  const failed = new Set(report.failures.map((f) => f.sourceItemId));
  let expected = 0;
  for (const item of source.items.values()) {
    if (failed.has(item.id)) continue;
    expected++;
    const stored = await vault.getItemVersion(layout.itemVersion(source.id, item.id, item.changeKey));
    expect(copies.get(`${item.spec.searchKey.toString('base64')} ${stored?.sha256}`), item.id).toBe(1);
  }
  expect(sim.tenant.mailbox(targetUpn).items.size).toBe(expected);
}

/** A full verify of every mailbox finds nothing; every source item is in the snapshot or named as failed. */
async function expectBackupWhole(vault: VaultStore, report: RunReport) {
  for (const upn of [SOURCE, OTHER]) {
    const mailbox = sim.tenant.mailbox(upn);
    const result = report.mailboxes.find((m) => m.upn === upn)!;
    expect(result.status, upn).not.toBe('Failed');
    expect(result.items.inSnapshot + result.failures.length, upn).toBe(mailbox.items.size);
    const verify = await verifyMailbox(vault, { mailboxKey: keyOf(mailbox.id), mode: 'full', sample: 0, seed: '' });
    expect(verify.snapshotsChecked, upn).toBeGreaterThan(0);
    expect(verify.problems, upn).toEqual([]);
  }
}

const digestOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** What downloads left in the staging mailbox: items anywhere in it, and staging folders. */
function stagingLeftovers(mailbox: SimMailbox) {
  const folders = [...mailbox.folders.values()].filter((f) => parseStagingFolderName(f.displayName));
  return { items: mailbox.items.size, folders: folders.map((f) => f.displayName) };
}

/**
 * The download's file, fetched through the app's route as a user would: each message of the source in it once,
 * byte for byte as the mailbox holds it, or named among the failures; every other item named with its reason.
 * Then nothing is left in the staging mailbox, and the status shows no import URL or token.
 */
async function expectDownloadWhole(app: AppProcess, body: OperationStatus) {
  const report = body.report as DownloadReport;
  const response = await fetch(`${app.baseUrl}/api/downloads/${body.id}/file`);
  expect(response.status, JSON.stringify(report)).toBe(200);
  const file = Buffer.from(await response.arrayBuffer());
  const messages = report.format === 'mbox' ? readMboxrd(file) : [...(await readZip(file)).values()];
  const copies = new Map<string, number>();
  for (const digest of messages.map(digestOf)) copies.set(digest, (copies.get(digest) ?? 0) + 1);
  const failed = new Set(report.failures.filter((f) => f.code && f.message).map((f) => f.sourceItemId));
  const skipped = new Map(report.notDownloadable.map((n) => [n.sourceItemId, n.reason]));
  const source = sim.tenant.mailbox(SOURCE);
  let expected = 0;
  for (const item of source.items.values()) {
    if (!isDownloadableClass(item.type)) expect(skipped.get(item.id), item.id).toMatch(/restore it instead/);
    else if (!failed.has(item.id)) {
      expected++;
      expect(copies.get(digestOf(Buffer.concat([...renderMime(item.spec)]))), item.id).toBe(1);
    }
  }
  expect(messages.length).toBe(expected);
  expect(report.counts).toEqual({
    selected: source.items.size,
    converted: expected,
    notDownloadable: skipped.size,
    failed: report.failures.length,
  });
  expect(report.stagingCleaned).toBe(true);
  expect(stagingLeftovers(sim.tenant.mailbox(STAGING))).toEqual({ items: 0, folders: [] });
  const status = JSON.stringify(body);
  expect(status).not.toMatch(/importUrl|authtoken/i);
  expect(status).not.toContain(sim.demoToken);
}

describe('the app killed with SIGKILL and started again', () => {
  for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
    it(`seed ${seed}: a backup, restore and download each resume and finish whole`, { timeout: 600_000 }, async () => {
      const random = randomFor(seed);
      const container = `kill-${seed}-${randomBytes(4).toString('hex')}`;
      const vault = new VaultStore(BlobServiceClient.fromConnectionString(azuriteConnectionString()), container);

      const backup = await runThroughKill(container, seed, 'backups', undefined, random(3, 40));
      expect(backup.body?.runtimeStatus, JSON.stringify(backup.body)).toBe('Completed');
      await expectBackupWhole(vault, backup.body!.report as RunReport);
      await backup.app.stop();

      const restoreRequest = { sourceMailbox: SOURCE, targetMailbox: targetOf(seed), collisions: 'copy' };
      const restore = await runThroughKill(container, seed, 'restores', restoreRequest, random(2, 12));
      expect(restore.body?.runtimeStatus, JSON.stringify(restore.body)).toBe('Completed');
      await expectRestoredOnce(vault, restore.body!.report as RestoreReport, SOURCE, targetOf(seed));

      // The whole source mailbox: two batches, and items that are not messages. Started on the running app (an app
      // start is the slow part). It asks Graph 82 times: from the staging folder's making (2nd) to its deletion (82nd,
      // the 81st if planning asks before the 202 is read).
      const toDownload = { sourceMailbox: SOURCE, format: seed % 2 ? 'zip' : 'mbox' };
      const download = await runThroughKill(container, seed, 'downloads', toDownload, random(1, 81), restore.app);
      expect(download.body?.runtimeStatus, JSON.stringify(download.body)).toBe('Completed');
      await expectDownloadWhole(download.app, download.body!);
      await download.app.stop();
      const killed = { backup: backup.killed, restore: restore.killed, download: download.killed };
      expect(killed).toEqual({ backup: true, restore: true, download: true });
    });
  }
});
