import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** An app instance in a child process (hostProcess.ts): its API, and what it printed once stopped. */
export interface HostProcess {
  baseUrl: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Stops it (SIGTERM) and returns everything it printed. */
  stop(): Promise<string>;
}

export async function startHostProcess(env: Record<string, string>): Promise<HostProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'test/support/hostProcess.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /serving on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearInterval(timer);
        resolve(match[1]!);
      }
    }, 50);
    void exited.then(() => {
      clearInterval(timer);
      reject(new Error(`The host process stopped before serving:\n${output}`));
    });
  });
  return {
    baseUrl,
    async api(method, path, body) {
      const response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
      process.off('exit', kill);
      return output;
    },
  };
}

/** Polls a run's status until it is neither Running nor Pending (the host's virtual clock keeps it quick). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the API's JSON, read by the tests
export async function waitForRun(host: HostProcess, path: string, timeoutMs = 120_000): Promise<any> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    const { body } = await host.api('GET', path);
    if (!['Running', 'Pending'].includes(body?.runtimeStatus)) return body;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${path} did not finish within ${timeoutMs} ms`);
}
