import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreOutput } from '../../functions/contracts.js';
import { compactTime, keyOf, layout } from '../../shared/vault/layout.js';
import type { SnapshotRecord } from '../../shared/vault/records.js';
import { listSnapshots } from '../../shared/vault/snapshotCatalog.js';
import { READER_START_WINDOW_IN_MS } from '../../shared/maintenance/expiringSnapshots.js';
import type { MaintenanceReport } from '../../shared/maintenance/report.js';
import { setVaultWriteHook, type VaultWrite } from '../../shared/vault/writeFaults.js';
import { InjectedCrash } from '../support/crashPoints.js';
import { maintenanceInput, readerMarkersOnly, verifyWholeVault, ZERO_RETENTION } from '../support/integrity.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * The handshake between a prune and a restore being requested (shared/maintenance/expiringSnapshots.ts), at the
 * exact steps where they cross: each side is held at one vault write (the write hook returns a promise) while the
 * other goes on. Either the restore is refused with a 409, or the prune keeps the snapshot until the restore ends;
 * never a restore accepted for a snapshot whose versions are swept.
 */

let stack: Stack;
const SOURCE = 'ana@contoso.example';
const TARGET = 'ben@contoso.example';
const STAGING = 'mailbox-vault-staging@contoso.example';
const ITEMS = 5;
let maintenanceDay = 1;

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: SOURCE, items: ITEMS },
        { upn: TARGET, items: 0 },
        { upn: STAGING, kind: 'shared', items: 0 },
      ],
    },
    { settings: { ...ZERO_RETENTION, MAILBOX_VAULT_STAGING_MAILBOX: STAGING } },
  );
  await runBackup(stack, { mailboxes: [SOURCE] });
  await readerMarkersOnly(stack.vault); // the prunes read their mailbox's reader markers, as once upgraded
}, 120_000);
afterAll(() => stack.close());
afterEach(() => setVaultWriteHook(undefined));

/** A gate: `reached` resolves when work arrives at it, and the work waits until `open` is called. */
function gate(): { reached: Promise<void>; arrive: () => Promise<void>; open: () => void } {
  let arrived!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    reached,
    arrive: () => {
      arrived();
      return opened;
    },
    open,
  };
}

/** Holds the first 'before' write the matcher picks at the gate (one pause per gate). */
function holdAt(rules: Array<{ matches: (write: VaultWrite) => boolean; at: ReturnType<typeof gate> }>): void {
  const used = new Set<number>();
  setVaultWriteHook((write, phase) => {
    if (phase !== 'before') return undefined;
    const index = rules.findIndex((rule, i) => !used.has(i) && rule.matches(write));
    if (index < 0) return undefined;
    used.add(index);
    return rules[index]!.at.arrive();
  });
}

/** Another backup, so the snapshot that was newest is one the policy expires (retention all zero). */
async function expiringSnapshot(): Promise<SnapshotRecord> {
  const source = stack.sim.tenant.mailbox(SOURCE);
  stack.sim.tenant.changeItem(source, [...source.items.keys()][0]!);
  await new Promise((resolve) => setTimeout(resolve, 1_100)); // run ids have a second's resolution
  await runBackup(stack, { mailboxes: [SOURCE] });
  const [, older] = await listSnapshots(stack.vault, source.id);
  return older!;
}

function startMaintenance(): string {
  const id = `maintenance-${compactTime(new Date(Date.now() + maintenanceDay++ * 86_400_000))}`;
  stack.app.host.startNew('vaultMaintenance', { instanceId: id, input: maintenanceInput(id) });
  return id;
}

/** A maintenance run whose clock (its start, the policy's "now") is `startedAt`. */
function runMaintenance(startedAt: string) {
  const id = `maintenance-${compactTime(new Date(Date.now() + maintenanceDay++ * 86_400_000))}`;
  stack.app.host.startNew('vaultMaintenance', { instanceId: id, input: { ...maintenanceInput(id), startedAt } });
  return stack.app.host.waitForCompletion(id);
}

const requestRestore = (snapshotId: string) =>
  stack.api('POST', '/api/restores', {
    sourceMailbox: SOURCE,
    snapshot: snapshotId,
    targetMailbox: TARGET,
    destination: 'original',
    collisions: 'copy',
  });

const recordOf = (snapshot: SnapshotRecord) =>
  stack.vault.readJson(layout.snapshotRecord(snapshot.mailboxId, snapshot.snapshotId));

const requestsUnder = async (prefix: 'restores/' | 'downloads/') => {
  const names: string[] = [];
  for await (const name of stack.vault.listNames(prefix)) if (name.endsWith('/request.json')) names.push(name);
  return names;
};
const restoreRequests = () => requestsUnder('restores/');

describe('a restore requested while a prune expires its snapshot', () => {
  it('is refused with a 409 when it found the snapshot after the prune read the running restores', async () => {
    const older = await expiringSnapshot();
    const requestsBefore = await restoreRequests();
    const pruneAtDelete = gate();
    holdAt([
      {
        matches: (w) => w.op === 'delete' && w.blobName.endsWith(`/snapshots/${older.snapshotId}.json`),
        at: pruneAtDelete,
      },
    ]);
    const maintenance = startMaintenance();
    await pruneAtDelete.reached; // the prune has read the running restores; the record is still there

    const answer = await requestRestore(older.snapshotId);
    pruneAtDelete.open();

    expect(answer.status).toBe(409);
    expect(answer.body.error.title).toBe('Snapshot pruned while the restore started');
    expect(answer.body.error.errors[0]).toMatch(/is being deleted by the retention policy/);
    expect((await stack.app.host.waitForCompletion(maintenance)).runtimeStatus).toBe('Completed');
    expect(await recordOf(older)).toBeUndefined();
    expect(await restoreRequests()).toEqual(requestsBefore); // withdrawn: it protects nothing
    expect(await verifyWholeVault(stack)).toEqual([]);
  }, 120_000);

  it('keeps the snapshot when the restore wrote its request after the prune first read the running restores', async () => {
    const older = await expiringSnapshot();
    const restoreAtRequest = gate();
    const pruneAtMark = gate();
    const restoreAtPlan = gate();
    holdAt([
      { matches: (w) => /^restores\/restore-[^/]+\/request\.json$/.test(w.blobName), at: restoreAtRequest },
      { matches: (w) => w.blobName.endsWith(`/state/expiring/${older.snapshotId}.json`), at: pruneAtMark },
      { matches: (w) => /^restores\/restore-[^/]+\/plan-index\.json$/.test(w.blobName), at: restoreAtPlan },
    ]);
    // The restore found its snapshot; then the prune read the running restores (none yet) and is about to mark.
    const answering = requestRestore(older.snapshotId);
    await restoreAtRequest.reached;
    const maintenance = startMaintenance();
    await pruneAtMark.reached;
    // The restore writes its request and checks its snapshot before the prune marks it: accepted.
    restoreAtRequest.open();
    const answer = await answering;
    expect(answer.status).toBe(202);
    // The restore read the manifest and wrote its plan; the prune goes on, and must not sweep what it is about to read.
    await restoreAtPlan.reached;
    pruneAtMark.open();
    expect((await stack.app.host.waitForCompletion(maintenance)).runtimeStatus).toBe('Completed');
    restoreAtPlan.open();
    const report = (await stack.app.host.waitForCompletion(answer.body.id as string)).output as RestoreOutput;

    expect(report.counts).toMatchObject({ selected: ITEMS, imported: ITEMS, failed: 0 });
    expect(await recordOf(older)).toBeDefined();
    expect(await verifyWholeVault(stack)).toEqual([]);
    // The restore has ended: the next prune may delete its snapshot.
    expect((await stack.app.host.waitForCompletion(startMaintenance())).runtimeStatus).toBe('Completed');
    expect(await recordOf(older)).toBeUndefined();
    expect(await verifyWholeVault(stack)).toEqual([]);
  }, 180_000);
});

describe('a restore whose trigger died between writing its request and starting it', () => {
  it('keeps its snapshot only until its start deadline is long past; then the prune expires it and reports why', async () => {
    const older = await expiringSnapshot();
    const requestsBefore = await restoreRequests();
    // The process dies just after the request and its reader marker landed: no audit record, no orchestration,
    // nothing withdrawn.
    setVaultWriteHook((write, phase) => {
      if (phase === 'after' && /\/state\/readers\/restore-[^/]+\.json$/.test(write.blobName))
        throw new InjectedCrash('[injected crash] the trigger died after writing its request and marker');
    });
    expect((await requestRestore(older.snapshotId)).status).toBe(500);
    setVaultWriteHook(undefined);
    const [orphan] = (await restoreRequests()).filter((name) => !requestsBefore.includes(name));
    const orphanId = orphan!.split('/')[1]!;
    expect(await stack.app.host.client.getStatus(orphanId).catch(() => undefined)).toBeUndefined();

    // A prune whose clock is within the deadline and its margin keeps the snapshot.
    const soon = new Date(Date.now() + READER_START_WINDOW_IN_MS).toISOString();
    expect((await runMaintenance(soon)).runtimeStatus).toBe('Completed');
    expect(await recordOf(older)).toBeDefined();

    // A day later (maintenanceInput's clock) the request is abandoned: the snapshot goes, and the report says why.
    const id = startMaintenance();
    expect((await stack.app.host.waitForCompletion(id)).runtimeStatus).toBe('Completed');
    expect(await recordOf(older)).toBeUndefined();
    const report = await stack.vault.readJson<MaintenanceReport>(layout.maintenanceReport(id));
    const pruned = report!.prune!.mailboxes.find((m) => m.mailboxId === older.mailboxId)!;
    expect(pruned.snapshotsExpired).toContain(older.snapshotId);
    expect(pruned.abandonedReads).toEqual([
      expect.objectContaining({ id: orphanId, snapshotId: older.snapshotId, startBy: expect.any(String) }),
    ]);
    expect(await verifyWholeVault(stack)).toEqual([]);
  }, 180_000);

  it('does not undercut one that did start: a running restore keeps its snapshot past its deadline', async () => {
    const older = await expiringSnapshot();
    const restoreAtPlan = gate();
    holdAt([{ matches: (w) => /^restores\/restore-[^/]+\/plan-index\.json$/.test(w.blobName), at: restoreAtPlan }]);
    const answer = await requestRestore(older.snapshotId);
    expect(answer.status).toBe(202);
    await restoreAtPlan.reached; // running, its deadline long past by the prune's clock (a day on)
    const id = startMaintenance();
    expect((await stack.app.host.waitForCompletion(id)).runtimeStatus).toBe('Completed');
    expect(await recordOf(older)).toBeDefined();
    const report = await stack.vault.readJson<MaintenanceReport>(layout.maintenanceReport(id));
    const abandoned = report!.prune!.mailboxes.flatMap((m) => m.abandonedReads.map((read) => read.id));
    expect(abandoned).not.toContain(answer.body.id);
    restoreAtPlan.open();
    const output = (await stack.app.host.waitForCompletion(answer.body.id as string)).output as RestoreOutput;
    expect(output.counts).toMatchObject({ selected: ITEMS, imported: ITEMS, failed: 0 });
    expect(await verifyWholeVault(stack)).toEqual([]);
  }, 180_000);
});

describe('a download (an MBOX or ZIP export) and a prune', () => {
  it('is refused with a 409 when it found the snapshot after the prune read the running restores and downloads', async () => {
    const older = await expiringSnapshot();
    const requestsBefore = await requestsUnder('downloads/');
    const pruneAtDelete = gate();
    holdAt([
      {
        matches: (w) => w.op === 'delete' && w.blobName.endsWith(`/snapshots/${older.snapshotId}.json`),
        at: pruneAtDelete,
      },
    ]);
    const maintenance = startMaintenance();
    await pruneAtDelete.reached;

    const answer = await stack.api('POST', '/api/downloads', {
      sourceMailbox: SOURCE,
      snapshot: older.snapshotId,
      format: 'mbox',
    });
    pruneAtDelete.open();

    expect(answer.status, JSON.stringify(answer.body)).toBe(409);
    expect(answer.body.error.title).toBe('Snapshot pruned while the download started');
    expect((await stack.app.host.waitForCompletion(maintenance)).runtimeStatus).toBe('Completed');
    expect(await requestsUnder('downloads/')).toEqual(requestsBefore); // withdrawn: it protects nothing
    expect(await verifyWholeVault(stack)).toEqual([]);
  }, 120_000);

  it('keeps the snapshot a running download reads until its report is written', async () => {
    const older = await expiringSnapshot();
    const downloadId = 'download-20261201T000000Z-0000beef';
    // A running export, as the API records it: its marker and a request naming the snapshot, no report yet (and
    // no start deadline, so the prune a day on does not ask Durable about an orchestration this test never started).
    const source = { mailboxId: older.mailboxId, snapshotId: older.snapshotId };
    await stack.vault.writeJson(layout.byKey.readerMarker(keyOf(older.mailboxId), downloadId), {
      kind: 'download',
      id: downloadId,
      snapshotId: older.snapshotId,
      startBy: null,
    });
    await stack.vault.writeJson(layout.downloadRequest(downloadId), { downloadId, source });
    expect((await stack.app.host.waitForCompletion(startMaintenance())).runtimeStatus).toBe('Completed');
    expect(await recordOf(older)).toBeDefined();
    expect(await verifyWholeVault(stack)).toEqual([]);

    await stack.vault.writeJson(layout.downloadReport(downloadId), { downloadId });
    expect((await stack.app.host.waitForCompletion(startMaintenance())).runtimeStatus).toBe('Completed');
    expect(await recordOf(older)).toBeUndefined();
  }, 180_000);
});
