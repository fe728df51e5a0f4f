import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaintenanceReport } from '../../shared/maintenance/report.js';
import { layout } from '../../shared/vault/layout.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';
import { names, plantRestore, plantRun } from '../support/artifacts.js';

/** Through the app: a maintenance run with the prune deletes run and restore artifacts past the policy. */

describe('a maintenance run', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ mailboxes: [{ upn: 'ana@contoso.example', items: 2 }] });
  });
  afterAll(() => stack.close());

  it('deletes the artifacts of work past the policy with the prune, keeps recent ones, and reports it', async () => {
    const { id: recentRun } = await runBackup(stack);
    const oldRun = 'backup-20250101T020000Z-0a0b0c0d';
    const oldRestore = 'restore-20250101T030000Z-0a0b0c0d';
    await plantRun(stack.vault, oldRun);
    await plantRestore(stack.vault, oldRestore);

    const started = await stack.api('POST', '/api/maintenance', { prune: { dryRun: false } });
    expect(started.status).toBe(202);
    await stack.app.host.waitForCompletion(started.body.id);
    const status = await stack.api('GET', `/api/maintenance/${started.body.id}`);
    const report = status.body.report as MaintenanceReport;

    expect(report.errors).toEqual([]);
    expect(report.prune?.artifacts?.deleted).toEqual({ runs: [oldRun], restores: [oldRestore], maintenance: [] });
    expect(await names(stack.vault, `runs/${oldRun}/`)).toEqual([]);
    expect(await names(stack.vault, `restores/${oldRestore}/`)).toEqual([]);
    expect(await names(stack.vault, layout.runReport(recentRun))).toHaveLength(1);
  });
});
