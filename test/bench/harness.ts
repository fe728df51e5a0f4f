import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAzurite, type RunningAzurite } from '../../local/azurite.js';
import type { TenantSeed } from '../../local/simulator/index.js';
import type { MailboxCounters } from '../../local/simulator/throttle.js';

export const ROOT = join(import.meta.dirname, '..', '..', '..');

/** The simulator in a process of its own, so its CPU and memory are not counted as ours. */
export interface SimulatorProcess {
  baseUrl: string;
  token: string;
  mailboxIds: Record<string, string>;
  control(method: string, path: string, body?: unknown): Promise<unknown>;
  counters(): Promise<Record<string, MailboxCounters>>;
  stop(): Promise<void>;
}

const SIMULATOR_HEAP_MB = 8_192;

export async function startSimulatorProcess(
  spec: TenantSeed,
  env: Record<string, string> = {},
): Promise<SimulatorProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    // A million-item mailbox's metadata and its cached delta rounds outgrow Node's default heap.
    [`--max-old-space-size=${SIMULATOR_HEAP_MB}`, join(ROOT, 'dist', 'local', 'simulator', 'main.js')],
    {
      env: {
        ...process.env,
        SIM_PORT: '0',
        SIM_HTTPS_PORT: '0',
        SIM_TENANT: 'spec',
        SIM_TENANT_SPEC: JSON.stringify(spec),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const ready = await new Promise<string>((resolve, reject) => {
    // Seeding a million-item mailbox (the scale bench) takes minutes on a busy machine.
    const timer = setTimeout(() => reject(new Error(`simulator did not start:\n${output}`)), 900_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const lines = output.split('\n').filter((l) => /^\s+(user|shared)\s/.test(l));
      if (/Demo token/.test(output) && lines.length >= spec.mailboxes.length) {
        clearTimeout(timer);
        resolve(output);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`simulator exited ${code}:\n${output}`)));
  });
  const baseUrl = /listening on (http:\/\/\S+)/.exec(ready)![1]!;
  const token = /Demo token\s+:\s+(\S+)/.exec(ready)![1]!;
  const mailboxIds: Record<string, string> = {};
  for (const match of ready.matchAll(/^\s+(?:user|shared)\s+(\S+)\s+\d+ items\s+(\S+)$/gm))
    mailboxIds[match[1]!] = match[2]!;
  const control = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}/_sim${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`control ${method} ${path}: ${response.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };
  return {
    baseUrl,
    token,
    mailboxIds,
    control,
    counters: async () => (await control('GET', '/stats')) as Record<string, MailboxCounters>,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

let azurite: RunningAzurite | undefined;

/** Azurite holds every blob's metadata in its heap: the million-item scale bench writes over a million blobs. */
const AZURITE_HEAP_MB = 12_288;

/** The benches' Azurite: its extent sweep off (they write much and delete little, and a sweep lists every blob). */
export async function sharedAzurite(): Promise<RunningAzurite> {
  azurite ??= await startAzurite({ gcIntervalMs: Infinity, maxHeapMb: AZURITE_HEAP_MB });
  return azurite;
}

export async function stopAzurite(): Promise<void> {
  await azurite?.stop();
  azurite = undefined;
}

/** App settings pointing the app at a simulator and a fresh vault container. */
export async function appEnv(
  sim: SimulatorProcess,
  scope: string[],
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const storage = await sharedAzurite();
  return {
    MAILBOX_VAULT_GRAPH_BASE_URL: sim.baseUrl,
    MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
    MAILBOX_VAULT_GRAPH_STATIC_TOKEN: sim.token,
    MAILBOX_VAULT_STORAGE_CONNECTION_STRING: storage.connectionString,
    MAILBOX_VAULT_CONTAINER: `bench-${randomBytes(5).toString('hex')}`,
    MAILBOX_VAULT_SCOPE_USERS: scope.join(','),
    MAILBOX_VAULT_GRAPH_LOG: 'quiet',
    ...extra,
  };
}

/** Where the memory was at the peak: V8's heap, Buffers and other memory outside it, and what `whatRuns` said. */
export interface AtPeak {
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
  running?: unknown;
}

/** Peak RSS of this process while `work` runs, sampled every 10 ms, and what made it up at that moment. */
export async function peakRss<T>(
  work: () => Promise<T>,
  whatRuns?: () => unknown,
): Promise<{ result: T; peakRssBytes: number; startRssBytes: number; atPeak?: AtPeak }> {
  const startRssBytes = process.memoryUsage().rss;
  let peak = startRssBytes;
  let atPeak: AtPeak | undefined;
  const sample = () => {
    const usage = process.memoryUsage();
    if (usage.rss <= peak) return;
    peak = usage.rss;
    atPeak = {
      heapUsedBytes: usage.heapUsed,
      heapTotalBytes: usage.heapTotal,
      externalBytes: usage.external,
      arrayBuffersBytes: usage.arrayBuffers,
      ...(whatRuns ? { running: whatRuns() } : {}),
    };
  };
  const timer = setInterval(sample, 10);
  try {
    const result = await work();
    sample();
    return { result, peakRssBytes: peak, startRssBytes, ...(atPeak ? { atPeak } : {}) };
  } finally {
    clearInterval(timer);
  }
}

/**
 * CPU milliseconds of this process so far, split into the JavaScript thread and the rest (V8's garbage
 * collector and compiler threads, libuv's pool). Linux only; zeros elsewhere.
 */
export function threadCpu(): { mainMs: number; otherMs: number } {
  let mainMs = 0;
  let otherMs = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, ticks of 1/100 s
      if (Number(tid) === process.pid) mainMs += ms;
      else otherMs += ms;
    }
  } catch {
    /* not Linux */
  }
  return { mainMs, otherMs };
}
