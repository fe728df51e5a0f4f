import type { LocalApp } from '../../local/host/localApp.js';
import type { ChurnResult } from '../../local/simulator/churn.js';
import { backup, withApp } from './app.js';
import { startBlobRequestCounter, type BlobRequestCounter } from './blobRequestCounter.js';
import { appEnv, peakRss, startSimulatorProcess, type AtPeak, type SimulatorProcess } from './harness.js';

const SOURCE = 'million@bench.example';
const TARGET = 'scale-target@bench.example';

/** One step of the scale bench: what the app's process held and what its longest activity took. */
export interface ScaleStep {
  step: string;
  wallMs: number;
  peakRssBytes: number;
  startRssBytes: number;
  /** What made up the peak: heap, memory outside it, the activities running then. */
  atPeak?: AtPeak;
  /** The longest single activity of the step (the local host times each one), by name. */
  longestActivity: { name: string; ms: number } | null;
  activities: Record<string, { count: number; maxMs: number; totalMs: number }>;
  blobRequests: { total: number; byKind: Record<string, number> };
  /** Graph requests to the large mailbox, by kind. */
  graphRequests: Record<string, number>;
  /** The least time these requests take under Exchange's budget of 10,000 per 10 minutes per mailbox. */
  budgetMinutes: number;
}

export interface ScaleResult {
  items: number;
  folders: number;
  steps: ScaleStep[];
  fullBackup: { status: string; itemsExported: number; blobRequestsPerItem: number };
  night: {
    status: string;
    churn: ChurnResult;
    exported: number;
    deltaAndExportCalls: number;
    allowedCalls: number;
    graphCalls: number;
    blobRequestsPerChangedItem: number;
  };
  browse: { folder: string; folderItems: number; firstPageMs: number; middlePageMs: number; skip: number };
  /** The plan's activities: how many slices, and their time in all (the longest is the step's longest activity). */
  restorePlan: { folder: string; selectedItems: number; slices: number; planMs: number; longestSliceMs: number };
}

/**
 * `npm run bench -- --scale[=N]`: one shared mailbox of N small items (1,000,000 by default) backed up in full,
 * an incremental night with 0.1 % of it changed, a browse of its largest folder (first page and one from its
 * middle) and the restore plan of that folder. The simulator runs in a process of its own (it holds the items'
 * metadata; their bodies are generated when exported), so the RSS sampled here is the app's: the local Durable
 * host, the functions and their clients, with Azurite apart too. Latency L = 0.
 */
export async function scaleBench(items: number): Promise<ScaleResult> {
  const sim = await startSimulatorProcess(
    {
      mailboxes: [
        { upn: SOURCE, kind: 'shared', items, sizes: [500, 1_500] },
        { upn: TARGET, items: 0 },
      ],
    },
    // Exchange's 10,000 requests per 10 minutes per mailbox would make a million-item backup wait out the budget
    // for most of an hour (50,000 exportItems calls alone): lifted here, so that what is measured is the app's
    // own time; each step prints how long its requests take under the real budget (`budgetMinutes`).
    { SIM_LATENCY_MS: '0', SIM_REQUEST_BUDGET: String(Number.MAX_SAFE_INTEGER) },
  );
  let blobs: BlobRequestCounter | undefined;
  try {
    // The restore policy takes a target only from the backup scope: the empty target is backed up too, at no cost.
    const env = await appEnv(sim, [SOURCE, TARGET], { MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: '0' });
    blobs = startBlobRequestCounter(env.MAILBOX_VAULT_STORAGE_CONNECTION_STRING!);
    const counter = blobs;
    return await withApp(env, async (app) => {
      const steps: ScaleStep[] = [];
      const measure = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
        const { result, record } = await measureStep(app, sim, counter, step, work);
        steps.push(record);
        console.log(`  ${step}: ${summary(record)}`);
        return result;
      };
      const folders = (await sim.control('GET', '/mailboxes')) as Array<{ upn: string; folders: number }>;
      const folderCount = folders.find((m) => m.upn === SOURCE)!.folders;

      const full = await measure('full backup', () => backup(app));
      const fullStep = steps.at(-1)!;
      const itemsExported = full.report.totals.itemsExported;

      const churn = (await sim.control('POST', `/mailboxes/${SOURCE}/churn`, { fraction: 0.001 })) as ChurnResult;
      const night = await measure('incremental night (0.1 % changed)', () => backup(app));
      const nightStep = steps.at(-1)!;
      const exported = night.report.totals.itemsExported;
      const deltaAndExportCalls = ['folderDelta', 'itemDelta', 'exportItems'].reduce(
        (sum, kind) => sum + (nightStep.graphRequests[kind] ?? 0),
        0,
      );

      const browse = await measure('browse the largest folder', () => browseLargestFolder(app));
      const restorePlan = await measure('restore plan of that folder', () => planFolderRestore(app, browse.folder));
      const planSlices = steps.at(-1)!.activities.planRestoreSlice;
      Object.assign(restorePlan, {
        slices: planSlices?.count ?? 0,
        planMs: planSlices?.totalMs ?? NaN,
        longestSliceMs: planSlices?.maxMs ?? NaN,
      });

      return {
        items,
        folders: folderCount,
        steps,
        fullBackup: {
          status: full.report.status,
          itemsExported,
          blobRequestsPerItem: fullStep.blobRequests.total / itemsExported,
        },
        night: {
          status: night.report.status,
          churn,
          exported,
          deltaAndExportCalls,
          allowedCalls: folderCount + Math.ceil(exported / 20) + 5,
          graphCalls: Object.values(nightStep.graphRequests).reduce((a, b) => a + b, 0),
          blobRequestsPerChangedItem: nightStep.blobRequests.total / Math.max(1, exported),
        },
        browse,
        restorePlan,
      };
    });
  } finally {
    blobs?.stop();
    await sim.stop();
  }
}

/** Runs one step with its counters zeroed first: RSS sampled every 10 ms, activity times, Blob and Graph requests. */
async function measureStep<T>(
  app: LocalApp,
  sim: SimulatorProcess,
  blobs: BlobRequestCounter,
  step: string,
  work: () => Promise<T>,
): Promise<{ result: T; record: ScaleStep }> {
  const timings = app.host.stats.activityMs;
  for (const name of Object.keys(timings)) delete timings[name];
  blobs.reset();
  await sim.control('POST', '/stats/reset');
  const started = Date.now();
  const running = () => Object.fromEntries(Object.entries(app.host.stats.runningByName).filter(([, n]) => n > 0));
  const { result, peakRssBytes, startRssBytes, atPeak } = await peakRss(work, running);
  const wallMs = Date.now() - started;
  const activities = Object.fromEntries(
    Object.entries(timings).map(([name, t]) => [name, { count: t.count, maxMs: t.maxMs, totalMs: t.totalMs }]),
  );
  const longest = Object.entries(activities).sort((a, b) => b[1].maxMs - a[1].maxMs)[0];
  const counters = await sim.counters();
  const graphRequests = { ...(counters[sim.mailboxIds[SOURCE]!]?.requests ?? {}) };
  const totalGraphRequests = Object.values(graphRequests).reduce((a, b) => a + b, 0);
  return {
    result,
    record: {
      step,
      wallMs,
      peakRssBytes,
      startRssBytes,
      ...(atPeak ? { atPeak } : {}),
      longestActivity: longest ? { name: longest[0], ms: longest[1].maxMs } : null,
      activities,
      blobRequests: blobs.counts(),
      graphRequests,
      budgetMinutes:
        Math.floor(totalGraphRequests / EXCHANGE_REQUEST_BUDGET.requests) * EXCHANGE_REQUEST_BUDGET.minutes,
    },
  };
}

/** Exchange's requests per app and mailbox (graph-mailbox-api.md, throttling): a window's worth is free at once. */
const EXCHANGE_REQUEST_BUDGET = { requests: 10_000, minutes: 10 };

function summary(step: ScaleStep): string {
  const longest = step.longestActivity
    ? `longest activity ${step.longestActivity.name} ${(step.longestActivity.ms / 1000).toFixed(1)} s`
    : 'no activity';
  return `${(step.wallMs / 1000).toFixed(1)} s, peak RSS ${(step.peakRssBytes / 2 ** 20).toFixed(0)} MB${peakMakeUp(step.atPeak)}, ${longest}, ${step.blobRequests.total} Blob requests, Graph ${JSON.stringify(step.graphRequests)} (at least ${step.budgetMinutes} min under Exchange's request budget)`;
}

/** " (heap 120 of 160 MB, outside it 30 MB; running: exportBatch × 3)": where the peak's memory was. */
function peakMakeUp(atPeak: AtPeak | undefined): string {
  if (!atPeak) return '';
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  const running = Object.entries((atPeak.running ?? {}) as Record<string, number>)
    .map(([name, n]) => `${name} × ${n}`)
    .join(', ');
  return ` (heap ${mb(atPeak.heapUsedBytes)} of ${mb(atPeak.heapTotalBytes)} MB, outside it ${mb(atPeak.externalBytes)} MB; running: ${running || 'no activity'})`;
}

interface BrowsePage {
  folders: Array<{ path: string[]; items: number }>;
}

/** A folder path as the API's `folder` parameters take it: names joined by '/', a '/' or '\\' in a name escaped. */
const folderParam = (names: string[]) => names.map((n) => n.replace(/[\\/]/g, (c) => `\\${c}`)).join('/');

/** The snapshot's largest folder, found from the root's listing; a first page of it and one from its middle. */
async function browseLargestFolder(app: LocalApp): Promise<ScaleResult['browse']> {
  const page = async (folder: string, skip: number) => {
    const started = performance.now();
    const url = `${app.baseUrl}/api/snapshots/latest/items?mailbox=${encodeURIComponent(SOURCE)}&folder=${encodeURIComponent(folder)}&top=100&skip=${skip}`;
    const response = await fetch(url);
    if (!response.ok) throw new Error(`browse ${folder} answered ${response.status}: ${await response.text()}`);
    const body = (await response.json()) as BrowsePage;
    return { body, ms: performance.now() - started };
  };
  const root = await page('', 0);
  const largest = root.body.folders.reduce((a, b) => (b.items > a.items ? b : a));
  const folder = folderParam(largest.path);
  const first = await page(folder, 0);
  const skip = Math.floor(largest.items / 2 / 100) * 100;
  const middle = await page(folder, skip);
  return { folder, folderItems: largest.items, firstPageMs: first.ms, middlePageMs: middle.ms, skip };
}

/**
 * A restore of one folder into an empty mailbox, canceled once its plan is written: what is measured is the
 * request (which counts the selection) and the planning activity, not the imports.
 */
async function planFolderRestore(app: LocalApp, folder: string): Promise<ScaleResult['restorePlan']> {
  const response = await fetch(`${app.baseUrl}/api/restores`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ sourceMailbox: SOURCE, targetMailbox: TARGET, folders: [folder] }),
  });
  const body = (await response.json()) as { id: string; selectedItems: number };
  if (response.status !== 202) throw new Error(`restore did not start: ${JSON.stringify(body)}`);
  // Planned once the orchestration moves past its planning slices (or ends).
  const planning = () => {
    const status = app.host.getStatus(body.id);
    const phase = (status?.customStatus as { phase?: string } | undefined)?.phase;
    return (
      !status || (phase === 'planning' && status.runtimeStatus === 'Running') || status.runtimeStatus === 'Pending'
    );
  };
  while (planning()) await new Promise((resolve) => setTimeout(resolve, 50));
  await fetch(`${app.baseUrl}/api/restores/${body.id}`, { method: 'DELETE' });
  await app.host.waitForCompletion(body.id);
  return { folder, selectedItems: body.selectedItems, slices: 0, planMs: NaN, longestSliceMs: NaN };
}
