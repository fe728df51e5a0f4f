import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { azuriteConnectionString } from '../support/vault.js';

/**
 * The README's commands, run as a user runs them. They share one file so the two builds they start do not
 * write dist/ at the same time.
 */

function run(args: string[], env: Record<string, string>): { child: ChildProcessWithoutNullStreams; output: () => string; waitFor: (pattern: RegExp, ms: number) => Promise<string> } {
  const child = spawn('npm', args, { env: { ...process.env, ...env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    output: () => output,
    waitFor: (pattern, ms) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in:\n${output}`)), ms);
        const check = () => {
          if (pattern.test(output)) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            resolve(output);
          }
        };
        child.stdout.on('data', check);
        child.once('exit', (code) => {
          if (!pattern.test(output)) reject(new Error(`exited ${code} before ${pattern}:\n${output}`));
        });
        check();
      }),
  };
}

function stop(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    process.kill(-child.pid!, 'SIGTERM');
  });
}

describe('README commands', () => {
  it('`npm run simulator` starts the simulator and prints its base URL and demo token', async () => {
    const sim = run(['run', '--silent', 'simulator'], { SIM_PORT: '0' });
    try {
      const ready = await sim.waitFor(/support@contoso\.example/, 90_000);
      const baseUrl = /listening on (http:\/\/\S+)/.exec(ready)![1]!;
      const token = /Demo token\s+:\s+(\S+)/.exec(ready)![1]!;
      const settings = await fetch(`${baseUrl}/v1.0/users/support@contoso.example/settings/exchange`, { headers: { Authorization: `Bearer ${token}` } });
      expect(settings.status).toBe(200);
    } finally {
      await stop(sim.child);
    }
  }, 120_000);

  it('`npm start` backs up the demo tenant at once, reports it, and keeps serving', async () => {
    const app = run(['start', '--silent'], {
      PORT: '0',
      SIM_PORT: '0',
      MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
      MAILBOX_VAULT_CONTAINER: `start-${randomBytes(5).toString('hex')}`,
    });
    try {
      const output = await app.waitFor(/Next scheduled backup/, 240_000);
      expect(output).toMatch(/No tenant configured: the simulated demo tenant/);
      expect(output).toMatch(/Backup backup-\d{8}T\d{6}Z-[0-9a-f]{8}: Completed/);
      expect(output).toMatch(/Completed\s+adele\.vance@contoso\.example\s+301 items in snapshot/);
      expect(output).toMatch(/warning: room-booking-bot@contoso\.example has no Exchange Online mailbox/);
      const baseUrl = /serving on (http:\/\/\S+)/.exec(output)![1]!;
      const id = /Backup (backup-\S+): Completed/.exec(output)![1]!;
      const status = (await (await fetch(`${baseUrl}/api/backups/${id}`)).json()) as { status: string };
      expect(status.status).toBe('Completed');
    } finally {
      await stop(app.child);
    }
  }, 300_000);
});
