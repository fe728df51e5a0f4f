import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { LocalApp } from '../../local/host/localApp.js';
import type { RunReport } from '../../shared/backup/types.js';
import { layout } from '../../shared/vault/layout.js';
import { getServices } from '../../shared/services.js';
import { backup, withApp } from './app.js';
import { ROOT, appEnv, peakRss, type SimulatorProcess } from './harness.js';

/** The UPN of the tenant bench's i-th mailbox (tenantSimulator.ts seeds the same). */
export const tenantUpn = (i: number) => `user${String(i).padStart(5, '0')}@tenant.example`;

export interface TenantScaleResult {
  mailboxes: number;
  itemsPerMailbox: number;
  lanes: number;
  seconds: number;
  status: string;
  historyEventsPerMailbox: number;
  longestHistory: Record<string, number>;
  instances: number;
  /** What the local host keeps of the run's finished orchestrations (history, input, output as JSON): in Azure, the task hub's tables. */
  hostHeldBytes: number;
  maxCustomStatusBytes: number;
  maxProgressBytes: number;
  reportBytes: number;
  reportPages: number;
  largestReportPageBytes: number;
  peakRssBytes: number;
  startRssBytes: number;
}

/**
 * `npm run bench -- --tenant[=N]`: one backup run over a tenant of N small mailboxes (10,000 by default), through
 * the local host, Azurite and the simulator (in a process of its own). Measures what must not grow with N:
 * history events per mailbox, the longest history of any orchestration, custom status and progress sizes, the
 * report summary's size, and this process's peak RSS. The local host runs in this process: it lets go of each
 * finished lane's and mailbox's history (their parents hold their results, the task hub their histories), as the
 * Functions host keeps them in the task hub's tables, not in the worker's memory; what it keeps is measured too.
 */
export async function tenantScale(mailboxes: number, lanes: number): Promise<TenantScaleResult> {
  const itemsPerMailbox = 3;
  const sim = await startTenantSimulator(mailboxes, itemsPerMailbox);
  try {
    const upns = Array.from({ length: mailboxes }, (_, i) => tenantUpn(i));
    const env = await appEnv(sim, upns, { MAILBOX_VAULT_MAILBOX_WAVE_SIZE: String(lanes) });
    const release = { releaseFinishedChildren: true };
    return await withApp(
      env,
      async (app) => {
        const sampler = sampleStatuses(app);
        const { result: run, peakRssBytes, startRssBytes } = await peakRss(() => backup(app));
        const sizes = await sampler.stop(run.id);
        return {
          mailboxes,
          itemsPerMailbox,
          lanes,
          seconds: run.wallMs / 1000,
          status: run.report.status,
          ...historyOf(app, run.id, mailboxes),
          ...sizes,
          ...(await reportSizes(run.id, run.report)),
          peakRssBytes,
          startRssBytes,
        };
      },
      release,
    );
  } finally {
    await sim.stop();
  }
}

function historyOf(app: LocalApp, runId: string, mailboxes: number) {
  const longestHistory: Record<string, number> = {};
  let events = 0;
  let instances = 0;
  let hostHeldBytes = 0;
  for (const instance of app.host.listInstances()) {
    if (!instance.instanceId.startsWith(runId)) continue;
    const stats = app.host.historyStats(instance.instanceId)!;
    instances++;
    hostHeldBytes += JSON.stringify(app.host.getStatus(instance.instanceId, { showHistory: true })).length;
    events += stats.totalEvents;
    longestHistory[instance.name] = Math.max(longestHistory[instance.name] ?? 0, stats.maxHistoryLength);
  }
  return { historyEventsPerMailbox: events / mailboxes, longestHistory, instances, hostHeldBytes };
}

/** Every second: the largest custom status of the run's tenant and lane orchestrations, and of GET's progress. */
function sampleStatuses(app: LocalApp) {
  let maxCustomStatusBytes = 0;
  let maxProgressBytes = 0;
  let runId: string | undefined;
  const sample = async () => {
    for (const instance of app.host.listInstances()) {
      if (instance.name === 'backupTenant') runId ??= instance.instanceId;
      if (instance.name === 'backupTenant' || instance.name === 'backupLane')
        maxCustomStatusBytes = Math.max(maxCustomStatusBytes, JSON.stringify(instance.customStatus).length);
    }
    if (runId) {
      const body = (await (await fetch(`${app.baseUrl}/api/backups/${runId}`)).json()) as { progress: unknown };
      maxProgressBytes = Math.max(maxProgressBytes, JSON.stringify(body.progress).length);
    }
  };
  const timer = setInterval(() => void sample().catch(() => undefined), 1_000);
  return {
    async stop(id: string) {
      clearInterval(timer);
      runId = id;
      await sample();
      return { maxCustomStatusBytes, maxProgressBytes };
    },
  };
}

async function reportSizes(runId: string, report: RunReport) {
  const { vault } = await getServices();
  const size = async (name: string) => (await vault.container.getBlobClient(name).getProperties()).contentLength ?? 0;
  const reportPages = report.pages?.count ?? 1;
  let largestReportPageBytes = 0;
  for (let page = 0; page < reportPages; page++)
    largestReportPageBytes = Math.max(largestReportPageBytes, await size(layout.runReportPage(runId, page)));
  return { reportBytes: await size(layout.runReport(runId)), reportPages, largestReportPageBytes };
}

async function startTenantSimulator(mailboxes: number, items: number): Promise<SimulatorProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'test', 'bench', 'tenantSimulator.js')], {
    env: { ...process.env, TENANT_MAILBOXES: String(mailboxes), TENANT_ITEMS: String(items) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/^token /m.test(output)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`tenant simulator exited ${code}:\n${output}`)));
  });
  const baseUrl = /listening on (\S+)/.exec(output)![1]!;
  const token = /^token (\S+)/m.exec(output)![1]!;
  const control = async (method: string, path: string) =>
    (await (await fetch(`${baseUrl}/_sim${path}`, { method })).json()) as unknown;
  return {
    baseUrl,
    token,
    mailboxIds: {},
    control,
    counters: async () => (await control('GET', '/stats')) as Awaited<ReturnType<SimulatorProcess['counters']>>,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
