import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaintenanceReport } from '../../shared/maintenance/report.js';
import { layout } from '../../shared/vault/layout.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';
import { names, plantDownload, plantRestore, plantRun, plantUnstartedRequest } from '../support/artifacts.js';

/**
 * Through the app: a maintenance run with the prune deletes run, restore and download artifacts past the policy,
 * and those of requests whose orchestration never started (asked of the Durable host, not taken on trust).
 */

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
    const oldDownload = 'download-20250101T040000Z-0a0b0c0d';
    await plantDownload(stack.vault, oldDownload);
    // Requests whose trigger died before starting their orchestration: no report, no instance, ever.
    const abandonedRestore = 'restore-20250101T050000Z-0a0b0c0d';
    const abandonedDownload = 'download-20250101T060000Z-0a0b0c0d';
    await plantUnstartedRequest(stack.vault, 'restore', abandonedRestore, '2025-01-01T05:05:00Z');
    await plantUnstartedRequest(stack.vault, 'download', abandonedDownload, '2025-01-01T06:05:00Z');
    // Unfinished, and no instance the app's Durable knows (a renamed task hub would look the same): kept.
    const unfinishedDownload = 'download-20250101T070000Z-0a0b0c0d';
    await plantDownload(stack.vault, unfinishedDownload, { report: false });

    const started = await stack.api('POST', '/api/maintenance', { prune: { dryRun: false } });
    expect(started.status).toBe(202);
    await stack.app.host.waitForCompletion(started.body.id);
    const status = await stack.api('GET', `/api/maintenance/${started.body.id}`);
    const report = status.body.report as MaintenanceReport;

    expect(report.errors).toEqual([]);
    expect(report.prune?.artifacts?.deleted).toEqual({
      runs: [oldRun],
      restores: [oldRestore, abandonedRestore],
      downloads: [oldDownload, abandonedDownload],
      maintenance: [],
    });
    expect(report.prune?.artifacts?.running).toEqual([unfinishedDownload]);
    expect(await names(stack.vault, `downloads/${unfinishedDownload}/`)).toHaveLength(4);
    for (const folder of [`runs/${oldRun}/`, `restores/${oldRestore}/`, `restores/${abandonedRestore}/`])
      expect(await names(stack.vault, folder)).toEqual([]);
    for (const folder of [`downloads/${oldDownload}/`, `downloads/${abandonedDownload}/`])
      expect(await names(stack.vault, folder)).toEqual([]);
    expect(await names(stack.vault, layout.runReport(recentRun))).toHaveLength(1);
  });
});

describe('a maintenance run by the CLI in-process, beside the app', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(
      { mailboxes: [{ upn: 'ana@contoso.example', items: 2 }] },
      { knowsOnlyItsOwnInstances: true },
    );
  });
  afterAll(() => stack.close());

  it("keeps a request it cannot tell from one running in the app's own task hub", async () => {
    const restoreId = 'restore-20250101T050000Z-0e0e0e0e';
    await runBackup(stack); // the vault as the app leaves it
    await plantUnstartedRequest(stack.vault, 'restore', restoreId, '2025-01-01T05:05:00Z');

    const started = await stack.api('POST', '/api/maintenance', { prune: { dryRun: false } });
    await stack.app.host.waitForCompletion(started.body.id);
    const report = (await stack.api('GET', `/api/maintenance/${started.body.id}`)).body.report as MaintenanceReport;

    expect(report.prune?.artifacts?.running).toEqual([restoreId]);
    expect(await names(stack.vault, `restores/${restoreId}/`)).toHaveLength(1);
  });
});
