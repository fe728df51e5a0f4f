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

/**
 * Runs the app as `npm start` runs it (local/start.ts, through tsx), in a child process whose environment is
 * all it gets: the settings, and what the platform would give it (a CA store with NODE_EXTRA_CA_CERTS, the
 * managed identity endpoint). Waits for the first backup to end, reads its status from the app's API, stops the
 * process, and hands back what it printed.
 */
export async function runFirstBackup(env: Record<string, string>, timeoutMs = 75_000): Promise<AppRun> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './test/support/loopbackNames.ts', 'local/start.ts'],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // 'close', not 'exit': by then everything the process printed has been read.
  const exited = once(child, 'close');
  // Should the test process go first (a timeout), the app goes with it.
  const stop = () => child.kill('SIGKILL');
  process.once('exit', stop);
  let run: Omit<AppRun, 'output'>;
  try {
    const done = await waitFor(() => /^Backup \S+: /m.test(output), exited, timeoutMs);
    if (!done) throw new Error(`The app stopped before its first backup ended:\n${output}`);
    const baseUrl = /serving on (http:\/\/\S+)/.exec(output)![1]!;
    const backupId = /First backup (\S+) started/.exec(output)![1]!;
    run = { backupId, status: await (await fetch(`${baseUrl}/api/backups/${backupId}`)).json() };
  } finally {
    // The app serves until stopped: SIGTERM is its orderly shutdown (start.ts).
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    process.off('exit', stop);
  }
  return { ...run, output };
}

/** Polls until the condition holds (true), the process exits (false), or the time runs out (throws). */
async function waitFor(condition: () => boolean, exited: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (gone) return condition();
    if (Date.now() > deadline) throw new Error(`The app's first backup did not end within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}
