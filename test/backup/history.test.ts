import { afterAll, describe, expect, it, vi } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import { keyOf } from '../../shared/vault/layout.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

let stack: Stack | undefined;
afterAll(() => stack?.close());

describe('a 20,000-item mailbox', () => {
  it('keeps orchestration history bounded, and no token reaches history, status, logs or the vault', async () => {
    const logs: string[] = [];
    const spy = vi
      .spyOn(console, 'warn')
      .mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(' ')));
    const errorSpy = vi
      .spyOn(console, 'error')
      .mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(' ')));
    try {
      stack = await startStack(
        { mailboxes: [{ upn: 'archive-heavy@contoso.example', items: 20_000, sizes: [400, 1_500] }] },
        {
          // Retries are logged in this run, so the secret scan below covers those log lines too.
          // Few windows per generation, so this run continues as new many times.
          settings: { MAILBOX_VAULT_GRAPH_LOG: 'warnings', MAILBOX_VAULT_WINDOWS_PER_EPISODE: '3' },
          simulator: { faults: { http503: 0.01 } },
          log: (level, name, ...args) =>
            logs.push(`${level} ${name} ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`),
        },
      );
      const { id, status } = await runBackup(stack);
      const report = status.report as RunReport;
      expect(report.status).toBe('Completed');
      expect(report.mailboxes[0]!.items.inSnapshot).toBe(20_000);

      const mailboxId = stack.sim.tenant.mailbox('archive-heavy@contoso.example').id;
      const mailboxInstance = `${id}-${keyOf(mailboxId)}`;
      const history = stack.app.host.historyStats(mailboxInstance)!;
      // 1,000 batches in 25 windows, 3 per generation: without continueAsNew one history would hold thousands of events.
      expect(history.generations).toBeGreaterThanOrEqual(5);
      expect(history.maxHistoryLength).toBeLessThan(400);

      // Secrets: the bearer token must appear nowhere Durable or the vault keeps, nor in any log line.
      const token = stack.sim.demoToken;
      const durableState = JSON.stringify(
        stack.app.host.listInstances().map((i) => stack!.app.host.getStatus(i.instanceId, { showHistory: true })),
      );
      expect(durableState.length).toBeGreaterThan(1000);
      expect(durableState).not.toContain(token);
      expect(durableState).not.toMatch(/authtoken|Bearer /i);
      let scanned = 0;
      for await (const name of stack.vault.listNames(`runs/${id}/`)) {
        const text = name.endsWith('.gz')
          ? ''
          : (await stack.vault.container.getBlockBlobClient(name).downloadToBuffer()).toString('utf8');
        expect(text).not.toContain(token);
        scanned++;
      }
      expect(scanned).toBeGreaterThan(100);
      expect(JSON.stringify(report)).not.toContain(token);
      expect(logs.some((line) => /retrying|throttled/.test(line))).toBe(true);
      for (const line of logs) expect(line).not.toContain(token);
    } finally {
      spy.mockRestore();
      errorSpy.mockRestore();
    }
  }, 600_000);
});
