import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

/** What `npm start` did in a process of its own: everything it printed, and the first backup's status. */
export interface AppRun {
  output: string;
  backupId: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the API's JSON, read by the tests
  status: any;
}

const ROOT = join(import.meta.dirname, '..', '..');

/** The app as `npm start` runs it, serving after its first backup, until `stop`. */
export interface RunningApp {
  baseUrl: string;
  backupId: string;
  output(): string;
  /** SIGTERM (start.ts's orderly shutdown); resolves once the process is gone and its output read. */
  stop(): Promise<void>;
}

/** A running app process (as `npm start` runs it) that a test may kill. */
export interface AppProcess {
  baseUrl: string;
  /** Everything it printed so far. */
  output(): string;
  /** SIGKILL: no orderly shutdown, no last write. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM, its orderly shutdown (start.ts). */
  stop(): Promise<void>;
}

/** Starts the app as `npm start` does, without its first backup, and resolves once it serves. */
export async function startAppProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<AppProcess> {
  const child = spawnApp({ MAILBOX_VAULT_START_BACKUP: 'false', ...env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = once(child, 'close');
  const stop = () => child.kill('SIGKILL');
  process.once('exit', stop);
  void exited.then(() => process.off('exit', stop));
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  // A start that fails or times out must not leave its process running into the next test.
  const served = await waitFor(() => /serving on http:\/\/\S+/.test(output), exited, timeoutMs).catch(
    async (error: Error) => {
      await end('SIGKILL');
      throw new Error(`${error.message}; it had printed:\n${output.slice(-4000)}`);
    },
  );
  if (!served) throw new Error(`The app stopped before it served:\n${output}`);
  return {
    baseUrl: /serving on (http:\/\/\S+)/.exec(output)![1]!,
    output: () => output,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}

function spawnApp(env: Record<string, string>) {
  return spawn(process.execPath, ['--import', 'tsx', '--import', './test/support/loopbackNames.ts', 'local/start.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Starts the app as `npm start` runs it (local/start.ts, through tsx), in a child process whose environment is
 * all it gets: the settings, and what the platform would give it (a CA store with NODE_EXTRA_CA_CERTS, the
 * managed identity endpoint). Resolves once its first backup has ended; the app keeps serving until stopped.
 */
export async function startApp(env: Record<string, string>, timeoutMs = 75_000): Promise<RunningApp> {
  const child = spawnApp(env);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // 'close', not 'exit': by then everything the process printed has been read.
  const exited = once(child, 'close');
  // Should the test process go first (a timeout), the app goes with it.
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const stop = async () => {
    // The app serves until stopped: SIGTERM is its orderly shutdown (start.ts).
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    process.off('exit', kill);
  };
  try {
    const done = await waitFor(() => /^Backup \S+: /m.test(output), exited, timeoutMs);
    if (!done) throw new Error(`The app stopped before its first backup ended:\n${output}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    baseUrl: /serving on (http:\/\/\S+)/.exec(output)![1]!,
    backupId: /First backup (\S+) started/.exec(output)![1]!,
    output: () => output,
    stop,
  };
}

/**
 * Runs the app as `npm start` runs it until its first backup ends, reads that backup's status from the app's
 * API, stops the process, and hands back what it printed.
 */
export async function runFirstBackup(env: Record<string, string>, timeoutMs = 75_000): Promise<AppRun> {
  const app = await startApp(env, timeoutMs);
  let status: unknown;
  try {
    status = await (await fetch(`${app.baseUrl}/api/backups/${app.backupId}`)).json();
  } finally {
    await app.stop();
  }
  return { backupId: app.backupId, status, output: app.output() };
}

/** Polls until the condition holds (true), the process exits (false), or the time runs out (throws). */
async function waitFor(condition: () => boolean, exited: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (gone) return condition();
    if (Date.now() > deadline) throw new Error(`The app did not get there within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}
