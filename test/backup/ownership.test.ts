import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaintenanceInput } from '../../functions/contracts.js';
import { registrations } from '../../local/host/registry.js';
import { pruneOwned } from '../../shared/maintenance/inFlight.js';
import { pruneMailbox } from '../../shared/maintenance/prune.js';
import { verifyMailbox } from '../../shared/maintenance/verify.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import type { DeltaState, SnapshotRecord } from '../../shared/vault/records.js';
import { VaultStore } from '../../shared/vault/vaultStore.js';
import type { RunReport } from '../../shared/backup/types.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * Work that overlaps on one mailbox, as production does it: the nightly prune while a backup is between its
 * exports and its commit, and an HTTP backup while the nightly one runs. Each mailbox has one writer at a time;
 * every committed snapshot still verifies in full, and the run that gave way says so.
 */

let stack: Stack;
const PAT = 'pat@contoso.example';
const SAM = 'sam@contoso.example';
const KAI = 'kai@contoso.example';
const LOU = 'lou@contoso.example';

/** Holds the commit of one run until released: the run stays "between export and commit". */
function holdCommit(run: { id?: string }): { reached: Promise<void>; release: () => void } {
  const reg = registrations.get('commitsnapshotslice')!;
  const original = reg.callback;
  let reached!: () => void;
  let release!: () => void;
  const reachedP = new Promise<void>((r) => (reached = r));
  const released = new Promise<void>((r) => (release = r));
  reg.callback = async (...args: unknown[]) => {
    if ((args[0] as { runId: string }).runId === run.id) {
      reached();
      await released;
      reg.callback = original;
    }
    return original(...args);
  };
  return { reached: reachedP, release };
}

async function startBackup(upn: string): Promise<string> {
  const started = await stack.api('POST', '/api/backups', { mailboxes: [upn] });
  expect(started.status).toBe(202);
  return started.body.id as string;
}

async function snapshotsOf(mailboxId: string): Promise<SnapshotRecord[]> {
  const out: SnapshotRecord[] = [];
  for await (const name of stack.vault.listNames(layout.snapshotsPrefix(mailboxId)))
    if (name.endsWith('.json')) out.push((await stack.vault.readJson<SnapshotRecord>(name))!);
  return out.sort((a, b) => a.takenAt.localeCompare(b.takenAt));
}

beforeAll(async () => {
  stack = await startStack({
    mailboxes: [
      { upn: PAT, items: 12 },
      { upn: SAM, items: 12 },
      { upn: KAI, items: 8 },
      { upn: LOU, items: 8 },
    ],
  });
}, 120_000);
afterAll(() => stack.close());

describe('a prune while a backup is between export and commit', () => {
  it('keeps the stored version the backup reuses, so its snapshot verifies in full', async () => {
    const tenant = stack.sim.tenant;
    const pat = tenant.mailbox(PAT);
    expect(((await runBackup(stack, { mailboxes: [PAT] })).status.report as RunReport).status).toBe('Completed');

    // A run exports the changed item's new version, then fails before its commit: that blob is unreferenced.
    tenant.changeItem(pat, [...pat.items.keys()][3]!);
    stack.app.host.injectActivityFault({ activity: 'commitSnapshotSlice', when: 'before', times: 3 });
    const failed = (await runBackup(stack, { mailboxes: [PAT] })).status.report as RunReport;
    expect(failed.mailboxes[0]!.snapshotId).toBeNull();
    await new Promise((r) => setTimeout(r, 1_100)); // the next run id starts a second later

    // The next run finds that version already stored (written: false) and stops before its commit.
    const run: { id?: string } = {};
    const hold = holdCommit(run);
    const runId = (run.id = await startBackup(PAT));
    await hold.reached;

    // Nightly maintenance prunes meanwhile, three hours into this (long) backup.
    const id = 'maintenance-20261123T053000Z';
    const input: MaintenanceInput = {
      id,
      trigger: 'timer',
      startedAt: new Date(Date.now() + 3 * 3600_000).toISOString(),
      prune: { dryRun: false },
      verify: null,
      mailboxKeys: null,
    };
    stack.app.host.startNew('vaultMaintenance', { instanceId: id, input });
    expect((await stack.app.host.waitForCompletion(id)).runtimeStatus).toBe('Completed');

    hold.release();
    await stack.app.host.waitForCompletion(runId);
    const report = (await stack.api('GET', `/api/backups/${runId}`)).body.report as RunReport;
    const [result] = report.mailboxes;
    expect(result!.snapshotId).not.toBeNull();
    // Kept by the sweep, not re-exported after it vanished: the commit's re-check would report it VersionPruned.
    expect(result!.items.alreadyStored).toBeGreaterThanOrEqual(1);
    expect(result!.failures).toEqual([]);
    const full = await verifyMailbox(stack.vault, { mailboxKey: keyOf(pat.id), mode: 'full', sample: 0, seed: 's' });
    expect(full.problems).toEqual([]);
  }, 120_000);
});

describe('two backups of one mailbox at once', () => {
  it('keep one snapshot chain; the second gives way and names the running one', async () => {
    const tenant = stack.sim.tenant;
    const sam = tenant.mailbox(SAM);
    expect(((await runBackup(stack, { mailboxes: [SAM] })).status.report as RunReport).status).toBe('Completed');
    tenant.changeItem(sam, [...sam.items.keys()][1]!);
    await new Promise((r) => setTimeout(r, 1_100));

    // The nightly run stops before its commit; its commit will also lose its answer once after the record.
    const run: { id?: string } = {};
    const hold = holdCommit(run);
    const nightly = (run.id = await startBackup(SAM));
    await hold.reached;
    const writeJson = VaultStore.prototype.writeJson;
    let crashed = false;
    VaultStore.prototype.writeJson = function (this: VaultStore, name: string, ...rest) {
      if (!crashed && name === layout.runMailboxResult(nightly, sam.id)) {
        crashed = true;
        return Promise.reject(new Error('the worker stopped after the commit record'));
      }
      return writeJson.call(this, name, ...rest);
    };

    try {
      await new Promise((r) => setTimeout(r, 1_100));
      tenant.addItem(sam, 'inbox', { subject: 'Arrived during the nightly run' });
      const http = await startBackup(SAM);
      await stack.app.host.waitForCompletion(http);
      const httpReport = (await stack.api('GET', `/api/backups/${http}`)).body.report as RunReport;
      const httpResult = httpReport.mailboxes[0]!;
      expect(httpResult.snapshotId).toBeNull();
      expect(httpResult.error).toContain(nightly);
      expect(httpReport.status).not.toBe('Completed');

      hold.release();
      await stack.app.host.waitForCompletion(nightly);
    } finally {
      VaultStore.prototype.writeJson = writeJson;
    }
    expect(crashed).toBe(true);
    const nightlyReport = (await stack.api('GET', `/api/backups/${nightly}`)).body.report as RunReport;
    const nightlySnapshot = nightlyReport.mailboxes[0]!.snapshotId!;
    expect(nightlySnapshot).toBeTruthy();

    // One chain, newest last, and the delta base at the newest snapshot.
    const chain = await snapshotsOf(sam.id);
    expect(chain).toHaveLength(2);
    expect(chain[1]!.previousSnapshotId).toBe(chain[0]!.snapshotId);
    const state = await stack.vault.readJson<DeltaState>(layout.deltaState(sam.id));
    expect(state!.lastSnapshotId).toBe(chain.at(-1)!.snapshotId);
    expect(state!.lastSnapshotId).toBe(nightlySnapshot);
    const full = await verifyMailbox(stack.vault, { mailboxKey: keyOf(sam.id), mode: 'full', sample: 0, seed: 's' });
    expect(full.problems).toEqual([]);
  }, 120_000);
});

describe('a sweep that takes a version a running backup stored', () => {
  it('is seen by the commit: the item is named, the snapshot verifies, and the next run exports it again', async () => {
    const tenant = stack.sim.tenant;
    const kai = tenant.mailbox(KAI);
    const mailboxKey = keyOf(kai.id);
    expect(((await runBackup(stack, { mailboxes: [KAI] })).status.report as RunReport).status).toBe('Completed');
    const changed = tenant.changeItem(kai, [...kai.items.keys()][2]!);

    const run: { id?: string } = {};
    const hold = holdCommit(run);
    const runId = (run.id = await startBackup(KAI));
    await hold.reached;
    // The worst case the lease allows: a sweep that did not see the run's record of the new version.
    const policy = { keepAllDays: 7, dailyDays: 14, weeklyWeeks: 6, monthlyMonths: 4 };
    const pruned = await pruneOwned(stack.vault, mailboxKey, (_inFlight, assertOwned) =>
      pruneMailbox(stack.vault, {
        mailboxKey,
        policy,
        now: new Date(),
        dryRun: false,
        protectedSnapshots: [],
        inFlight: new Set(),
        assertOwned,
      }),
    );
    expect(pruned.versionsDeleted).toBe(1);

    hold.release();
    await stack.app.host.waitForCompletion(runId);
    const result = ((await stack.api('GET', `/api/backups/${runId}`)).body.report as RunReport).mailboxes[0]!;
    expect(result.failures).toEqual([expect.objectContaining({ itemId: changed.id, code: 'VersionPruned' })]);
    const full = await verifyMailbox(stack.vault, { mailboxKey, mode: 'full', sample: 0, seed: 's' });
    expect(full.problems).toEqual([]);

    const next = (await runBackup(stack, { mailboxes: [KAI] })).status.report as RunReport;
    expect(next.status).toBe('Completed');
    expect(next.mailboxes[0]!.items.exported).toBe(1);
  }, 120_000);
});

describe('a backup whose orchestration was terminated while it owned the mailbox', () => {
  it('does not block the next one, and cannot commit behind it afterwards', async () => {
    const tenant = stack.sim.tenant;
    const lou = tenant.mailbox(LOU);
    const mailboxKey = keyOf(lou.id);
    expect(((await runBackup(stack, { mailboxes: [LOU] })).status.report as RunReport).status).toBe('Completed');
    tenant.changeItem(lou, [...lou.items.keys()][0]!);
    await new Promise((r) => setTimeout(r, 1_100));

    const run: { id?: string } = {};
    const hold = holdCommit(run);
    const stopped = (run.id = await startBackup(LOU));
    await hold.reached;
    stack.app.host.terminate(`${stopped}-${mailboxKey}`, 'stopped by an admin');
    stack.app.host.terminate(stopped, 'stopped by an admin');

    await new Promise((r) => setTimeout(r, 1_100));
    const next = await startBackup(LOU);
    await stack.app.host.waitForCompletion(next);
    const report = (await stack.api('GET', `/api/backups/${next}`)).body.report as RunReport;
    expect(report.status).toBe('Completed');
    const newest = report.mailboxes[0]!.snapshotId!;

    // The terminated run's commit, already handed to a worker, runs late: it must change nothing.
    hold.release();
    await stack.app.host.idle();
    const chain = await snapshotsOf(lou.id);
    expect(chain.map((s) => s.snapshotId)).toHaveLength(2);
    expect(chain[1]!.snapshotId).toBe(newest);
    expect(chain[1]!.previousSnapshotId).toBe(chain[0]!.snapshotId);
    expect((await stack.vault.readJson<DeltaState>(layout.deltaState(lou.id)))!.lastSnapshotId).toBe(newest);
    const full = await verifyMailbox(stack.vault, { mailboxKey, mode: 'full', sample: 0, seed: 's' });
    expect(full.problems).toEqual([]);
  }, 120_000);
});
