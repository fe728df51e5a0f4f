import { beforeAll, describe, expect, it, vi } from 'vitest';
import { expireArtifacts } from '../../shared/maintenance/artifacts.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { MAILBOX, names, plantDownload, plantRestore, plantRun, plantUnstartedRequest } from '../support/artifacts.js';
import { freshVault } from '../support/vault.js';

/**
 * Run, restore and download artifacts (plans, change lists, journals, messages, reports: subjects, senders, search keys) do not
 * outlive the retention policy: maintenance deletes the folders of finished work that started before the
 * policy's horizon, and never those of work still running.
 */

const policy = { keepAllDays: 7, dailyDays: 14, weeklyWeeks: 6, monthlyMonths: 4 };
const now = new Date('2026-11-23T05:30:00Z');
const OLD = '20260601T020000Z';
const RECENT = '20261120T020000Z';

describe('expiring run, restore and download artifacts', () => {
  let vault: VaultStore;
  const ended = new Set<string>();
  const hasEnded = async (id: string) => ended.has(id);

  beforeAll(async () => {
    ({ vault } = await freshVault('artifacts'));
  });

  it('deletes whole folders of finished work past the horizon, and keeps recent and running work', async () => {
    await plantRun(vault, `backup-${OLD}-aaaaaaaa`);
    await plantRun(vault, `backup-${OLD}`); // a scheduled run's id has no suffix
    await plantRun(vault, `backup-${RECENT}-bbbbbbbb`);
    await plantRestore(vault, `restore-${OLD}-cccccccc`);
    await plantRestore(vault, `restore-${RECENT}-dddddddd`);
    await vault.writeJson(layout.maintenanceReport(`maintenance-${OLD}-eeeeeeee`), { prune: null });
    // Unfinished and past the horizon: a restore still importing, a backup whose tenant orchestration ended
    // (terminated) while a mailbox's sub-orchestration still runs.
    await plantRestore(vault, `restore-${OLD}-11111111`, { report: false });
    await plantRun(vault, `backup-${OLD}-22222222`, { report: false });
    ended.add(`backup-${OLD}-22222222`);

    const result = await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });

    expect(result.deleted.runs.sort()).toEqual([`backup-${OLD}`, `backup-${OLD}-aaaaaaaa`]);
    expect(result.deleted.restores).toEqual([`restore-${OLD}-cccccccc`]);
    expect(result.deleted.maintenance).toEqual([`maintenance-${OLD}-eeeeeeee`]);
    expect(result.running.sort()).toEqual([`backup-${OLD}-22222222`, `restore-${OLD}-11111111`]);
    expect(await names(vault, `runs/backup-${OLD}-aaaaaaaa/`)).toEqual([]);
    expect(await names(vault, `runs/backup-${OLD}/`)).toEqual([]);
    expect(await names(vault, `restores/restore-${OLD}-cccccccc/`)).toEqual([]);
    expect(await names(vault, `maintenance/maintenance-${OLD}-eeeeeeee/`)).toEqual([]);
    expect(await names(vault, `runs/backup-${RECENT}-bbbbbbbb/`)).toHaveLength(4);
    expect(await names(vault, `restores/restore-${RECENT}-dddddddd/`)).toHaveLength(5);
    expect(await names(vault, `restores/restore-${OLD}-11111111/`)).toHaveLength(4);
    expect(await names(vault, `runs/backup-${OLD}-22222222/`)).toHaveLength(3);
    expect(result.blobsDeleted).toBe(4 + 4 + 5 + 1);
    expect(result.bytesFreed).toBeGreaterThan(0);
  });

  it("deletes a finished download's folder past the horizon, mail and file included; keeps a running one, and a file whose link is still valid", async () => {
    await plantDownload(vault, `download-${OLD}-44444444`);
    await plantDownload(vault, `download-${OLD}-66666666`, { report: false });
    await plantDownload(vault, `download-${RECENT}-77777777`);
    await plantDownload(vault, `download-${OLD}-88888888`, { fileExpiresAt: '2026-11-23T05:30:00.001Z' });
    await plantDownload(vault, `download-${OLD}-99999999`, { fileExpiresAt: now.toISOString() });

    const result = await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });

    expect(result.deleted.downloads.sort()).toEqual([`download-${OLD}-44444444`, `download-${OLD}-99999999`]);
    expect(result.running).toContain(`download-${OLD}-66666666`);
    expect(result.downloadsKept).toEqual([`download-${OLD}-88888888`]);
    expect(result.running).not.toContain(`download-${OLD}-88888888`);
    expect(await names(vault, `downloads/download-${OLD}-44444444/`)).toEqual([]);
    expect(await names(vault, `downloads/download-${OLD}-66666666/`)).toHaveLength(4);
    expect(await names(vault, `downloads/download-${OLD}-88888888/`)).toHaveLength(5);
    expect(await names(vault, `downloads/download-${RECENT}-77777777/`)).toHaveLength(5);
  });

  describe('a request whose orchestration Durable does not know', () => {
    const longPast = '2026-06-01T02:05:00Z';
    const unknownToDurable = async () => false;

    it('is deleted when it is the request alone, long past its start deadline: its trigger died', async () => {
      await plantUnstartedRequest(vault, 'restore', `restore-${OLD}-a1a1a1a1`, longPast);
      await plantUnstartedRequest(vault, 'download', `download-${OLD}-a2a2a2a2`, longPast);
      const input = { policy, now, dryRun: false, hasEnded, orchestrationExists: unknownToDurable };
      const result = await expireArtifacts(vault, input);
      expect(result.deleted.restores).toContain(`restore-${OLD}-a1a1a1a1`);
      expect(result.deleted.downloads).toContain(`download-${OLD}-a2a2a2a2`);
      expect(await names(vault, `restores/restore-${OLD}-a1a1a1a1/`)).toEqual([]);
    });

    it('is kept once its orchestration wrote anything: Durable was asked in another task hub', async () => {
      const restoreId = `restore-${OLD}-b1b1b1b1`;
      await plantUnstartedRequest(vault, 'restore', restoreId, longPast);
      await vault.writeText(layout.restorePlan(restoreId), '{"subject":"Payslip"}\n');
      const result = await expireArtifacts(vault, {
        policy,
        now,
        dryRun: false,
        hasEnded,
        orchestrationExists: unknownToDurable,
      });
      expect(result.running).toContain(restoreId);
      expect(await names(vault, `restores/${restoreId}/`)).toHaveLength(2);
    });

    it('is kept when its request says no start deadline (nor when it was written)', async () => {
      const restoreId = `restore-${OLD}-d1d1d1d1`;
      await vault.writeJson(layout.restoreRequest(restoreId), { source: { mailboxId: MAILBOX, snapshotId: 's' } });
      const input = { policy, now, dryRun: false, hasEnded, orchestrationExists: unknownToDurable };
      expect((await expireArtifacts(vault, input)).running).toContain(restoreId);
    });

    it('is kept when Durable cannot be asked, or has the instance, or is not asked at all', async () => {
      const restoreId = `restore-${OLD}-c1c1c1c1`;
      await plantUnstartedRequest(vault, 'restore', restoreId, longPast);
      const failing = async (): Promise<boolean> => {
        throw new Error('503 from the task hub');
      };
      for (const orchestrationExists of [failing, async () => true, undefined]) {
        const result = await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded, orchestrationExists });
        expect(result.running).toContain(restoreId);
      }
      expect(await names(vault, `restores/${restoreId}/`)).toHaveLength(1);
    });
  });

  it('deletes a run without a report once its orchestration and every unfinished mailbox have ended', async () => {
    const runId = `backup-${OLD}-33333333`;
    await plantRun(vault, runId, { report: false });
    ended.add(runId);
    expect((await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded })).running).toContain(runId);
    ended.add(`${runId}-${keyOf(MAILBOX)}`);
    expect((await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded })).deleted.runs).toContain(runId);
    expect(await names(vault, `runs/${runId}/`)).toEqual([]);
  });

  it("waits only on the mailboxes of its scope's pages, not on a page an earlier resolving attempt left past them", async () => {
    // resolveMailboxes writes the pages, then the summary; a retry that resolves fewer mailboxes (the group
    // shrank) leaves the first attempt's last page behind, past the summary's count.
    const runId = `backup-${OLD}-3a3a3a3a`;
    const other = 'mailbox-id-stale';
    await plantRun(vault, runId, { report: false });
    await vault.writeJson(layout.runMailboxes(runId), { count: 1, pageSize: 1, pages: 1, warnings: [] });
    await vault.writeJson(layout.runMailboxPage(runId, 0), [{ mailboxId: MAILBOX, upn: 'ana@x' }]);
    await vault.writeJson(layout.runMailboxPage(runId, 1), [{ mailboxId: other, upn: 'ben@x' }]);
    ended.add(runId);
    ended.add(`${runId}-${keyOf(MAILBOX)}`);
    const result = await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
    expect(result.running).not.toContain(runId);
    expect(result.deleted.runs).toContain(runId);
  });

  it('deletes a run whose unfinished-looking mailbox recorded its result', async () => {
    const runId = `backup-${OLD}-44444444`;
    await plantRun(vault, runId, { report: false, mailboxResult: true });
    ended.add(runId);
    expect((await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded })).deleted.runs).toContain(runId);
  });

  it('deletes the report last, so a deletion cut short still reads as finished work', async () => {
    // In a restore's folder the report does not list last (report.json < request.json < results/).
    const restoreId = `restore-${OLD}-55555555`;
    await plantRestore(vault, restoreId);
    const deleted: string[] = [];
    const spy = vi.spyOn(vault, 'deleteBlob').mockImplementation(async (name) => {
      deleted.push(name);
      return 'deleted';
    });
    try {
      await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
    } finally {
      spy.mockRestore();
    }
    const ofRestore = deleted.filter((name) => name.startsWith(`restores/${restoreId}/`));
    expect(ofRestore).toHaveLength(5);
    expect(ofRestore.at(-1)).toBe(layout.restoreReport(restoreId));
    await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
  });

  it('in a dry run, counts what it would delete and deletes nothing', async () => {
    const runId = `backup-${OLD}-66666666`;
    await plantRun(vault, runId);
    const result = await expireArtifacts(vault, { policy, now, dryRun: true, hasEnded });
    expect(result.deleted.runs).toEqual([runId]);
    expect(result.blobsDeleted).toBe(4);
    expect(await names(vault, `runs/${runId}/`)).toHaveLength(4);
    await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
  });

  it('leaves blobs under a WORM period and names them', async () => {
    const runId = `backup-${OLD}-77777777`;
    await plantRun(vault, runId);
    const spy = vi.spyOn(vault, 'deleteBlob').mockResolvedValue('immutable');
    try {
      const result = await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
      expect(result.immutable).toHaveLength(4);
      expect(result.immutable).toContainEqual({
        blob: layout.runReport(runId),
        reason: 'run artifact under a retention policy',
      });
      expect(result.blobsDeleted).toBe(0);
    } finally {
      spy.mockRestore();
    }
    await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
  });

  it('counts neither deleted nor immutable a blob someone else deleted first', async () => {
    const runId = `backup-${OLD}-88888888`;
    await plantRun(vault, runId);
    const spy = vi.spyOn(vault, 'deleteBlob').mockResolvedValue('absent');
    try {
      const result = await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
      expect(result).toMatchObject({ blobsDeleted: 0, bytesFreed: 0, immutable: [] });
    } finally {
      spy.mockRestore();
    }
    await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
  });

  it('keeps work that started exactly at the horizon', async () => {
    const runId = 'backup-20260801T000000Z-99999999'; // the horizon: 1 August 2026, 00:00
    await plantRun(vault, runId);
    const result = await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
    expect(result.deleted.runs).not.toContain(runId);
    expect(await names(vault, `runs/${runId}/`)).toHaveLength(4);
  });

  it('deletes an ended run that never listed its mailboxes, and counts a dry run of it exactly', async () => {
    const runId = `backup-${OLD}-abababab`;
    await vault.writeJson(`runs/${runId}/notes.json`, {}); // its scope was never resolved: no mailboxes.json
    ended.add(runId);
    const dry = await expireArtifacts(vault, { policy, now, dryRun: true, hasEnded });
    expect(dry.deleted.runs).toContain(runId);
    expect(dry.blobsDeleted).toBe(1);
    expect(Number.isFinite(dry.bytesFreed)).toBe(true);
    await expireArtifacts(vault, { policy, now, dryRun: false, hasEnded });
    expect(await names(vault, `runs/${runId}/`)).toEqual([]);
  });
});

describe('what expiring artifacts keeps whatever the policy', () => {
  const zero = { keepAllDays: 0, dailyDays: 0, weeklyWeeks: 0, monthlyMonths: 0 };
  const hasEnded = async () => true;

  it("keeps a week's work however short the policy", async () => {
    const { vault } = await freshVault('artifacts-week');
    await plantRun(vault, 'backup-20261118T020000Z-aaaaaaaa'); // 5 days before `now`
    await plantRun(vault, 'backup-20261115T020000Z-bbbbbbbb'); // 8 days before
    const result = await expireArtifacts(vault, { policy: zero, now, dryRun: false, hasEnded });
    expect(result.deleted.runs).toEqual(['backup-20261115T020000Z-bbbbbbbb']);
    expect(await names(vault, 'runs/backup-20261118T020000Z-aaaaaaaa/')).toHaveLength(4);
  });

  it("keeps a run's report and mailbox results while a snapshot it committed is kept, and nothing else", async () => {
    const { vault } = await freshVault('artifacts-kept');
    const runId = `backup-${OLD}-aaaaaaaa`;
    await plantRun(vault, runId);
    await vault.writeJson(layout.runMailboxResult(runId, MAILBOX), { mailboxId: MAILBOX, snapshotId: 'snap-1' });
    await vault.writeJson(layout.snapshotRecord(MAILBOX, 'snap-1'), { snapshotId: 'snap-1', runId });

    const kept = await expireArtifacts(vault, { policy: zero, now, dryRun: false, hasEnded });
    expect(kept.reportsKept).toEqual([runId]);
    expect(kept.deleted.runs).toEqual([]);
    expect(await names(vault, `runs/${runId}/`)).toEqual(
      [layout.runMailboxResult(runId, MAILBOX), layout.runMailboxes(runId), layout.runReport(runId)].sort(),
    );

    await vault.deleteBlob(layout.snapshotRecord(MAILBOX, 'snap-1')); // the prune expired the snapshot
    const gone = await expireArtifacts(vault, { policy: zero, now, dryRun: false, hasEnded });
    expect(gone.deleted.runs).toEqual([runId]);
    expect(await names(vault, `runs/${runId}/`)).toEqual([]);
  });

  it("keeps the pages of a kept run's report and scope with the rest of its record", async () => {
    const { vault } = await freshVault('artifacts-kept-pages');
    const runId = `backup-${OLD}-bbbbbbbb`;
    await plantRun(vault, runId);
    await vault.writeJson(layout.runMailboxPage(runId, 0), [{ mailboxId: MAILBOX, upn: 'ana@x' }]);
    await vault.writeJson(layout.runReportPage(runId, 0), { page: 0, mailboxes: [], deletions: {} });
    await keepSnapshot(vault, runId, MAILBOX, 'snap-1');

    const result = await expireArtifacts(vault, { policy: zero, now, dryRun: false, hasEnded });
    expect(result.reportsKept).toEqual([runId]);
    expect(await names(vault, `runs/${runId}/`)).toEqual(
      [
        layout.runMailboxResult(runId, MAILBOX),
        layout.runMailboxes(runId),
        layout.runReport(runId),
        layout.runReportPage(runId, 0),
        layout.runMailboxPage(runId, 0),
      ].sort(),
    );
  });

  // keyOf('mailbox-id-3') lists before keyOf(MAILBOX): each order, so the kept snapshot is found first and last.
  for (const [keptMailbox, failedMailbox] of [
    ['mailbox-id-3', MAILBOX],
    [MAILBOX, 'mailbox-id-3'],
  ] as const)
    it(`keeps a run's record while any one of its mailboxes' snapshots is kept (kept ${keptMailbox})`, async () => {
      const { vault } = await freshVault('artifacts-kept-one');
      const runId = `backup-${OLD}-cccccccc`;
      await plantRun(vault, runId);
      await keepSnapshot(vault, runId, keptMailbox, 'snap-1');
      await vault.writeJson(layout.runMailboxResult(runId, failedMailbox), {
        mailboxId: failedMailbox,
        snapshotId: null,
      });

      const result = await expireArtifacts(vault, { policy: zero, now, dryRun: false, hasEnded });
      expect(result.reportsKept).toEqual([runId]);
      expect(result.deleted.runs).toEqual([]);
      expect(await names(vault, `runs/${runId}/`)).toContain(layout.runReport(runId));
    });

  it('reads a mailbox result deleted between listing and reading as no snapshot kept', async () => {
    // Another maintenance run finishing the same folder: its listing named the result, which is gone.
    const { vault } = await freshVault('artifacts-vanished');
    const runId = `backup-${OLD}-dddddddd`;
    await plantRun(vault, runId);
    await keepSnapshot(vault, runId, MAILBOX, 'snap-1');
    const read = vault.readJson.bind(vault);
    const gone = layout.runMailboxResult(runId, MAILBOX);
    const spy = vi
      .spyOn(vault, 'readJson')
      .mockImplementation(async (name: string) => (name === gone ? undefined : read(name)) as never);
    try {
      const result = await expireArtifacts(vault, { policy: zero, now, dryRun: false, hasEnded });
      expect(result.deleted.runs).toEqual([runId]);
      expect(result.reportsKept).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });
});

/** A mailbox result of the run naming a snapshot the vault still has. */
async function keepSnapshot(vault: VaultStore, runId: string, mailboxId: string, snapshotId: string) {
  await vault.writeJson(layout.runMailboxResult(runId, mailboxId), { mailboxId, snapshotId });
  await vault.writeJson(layout.snapshotRecord(mailboxId, snapshotId), { snapshotId, runId });
}
