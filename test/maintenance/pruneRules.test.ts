import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pruneOwned, recordedVersions } from '../../shared/maintenance/inFlight.js';
import {
  ABANDONED_AFTER_DEADLINE_IN_MS,
  findSnapshotReadsInProgress,
  READER_START_WINDOW_IN_MS,
  startsInTime,
} from '../../shared/maintenance/expiringSnapshots.js';
import { findRestoresInProgress, pruneMailbox, type PruneInput } from '../../shared/maintenance/prune.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import { DEFAULT_RECORDS_IN_MEMORY } from '../../shared/vault/externalSort.js';
import { readDirectory } from '../../shared/vault/mailboxDirectory.js';
import { claimMailbox, type MailboxOwner } from '../../shared/vault/mailboxOwner.js';
import type { ManifestEntry, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { writePlainSnapshot } from '../support/plainSnapshot.js';
import { freshVault } from '../support/vault.js';

/**
 * What a prune keeps and deletes, on a vault written directly (no backups run, so it is quick enough for
 * mutation testing): the policy's expired snapshots go, record before manifest; a version goes only when no
 * remaining snapshot references it and no uncommitted run has recorded it; running restores, WORM and a lost
 * lease are respected. Only public functions are used, so the rules survive a rewrite of how prune walks.
 */

const MAILBOX = 'mailbox-1';
const KEY = keyOf(MAILBOX);
const policy = { keepAllDays: 7, dailyDays: 0, weeklyWeeks: 0, monthlyMonths: 0 };
const now = new Date('2026-11-23T05:30:00Z');
let vault: VaultStore;

const version = (item: string) => layout.itemVersion(MAILBOX, item, 'ck');

async function storeVersion(item: string, bytes: number): Promise<string> {
  const name = version(item);
  await vault.writeItemVersion(name, Buffer.alloc(bytes, item));
  return name;
}

/** The folder every test manifest starts with, as a real one starts with its folders (which reference no version). */
const inbox: ManifestEntry = {
  kind: 'folder',
  id: 'inbox',
  parentId: null,
  displayName: 'Inbox',
  path: ['Inbox'],
  type: 'mail',
  wellKnownName: 'inbox',
};

/** A committed snapshot referencing the versions of `items`. */
async function snapshot(snapshotId: string, takenAt: string, items: string[]): Promise<SnapshotRecord> {
  const entries: ManifestEntry[] = items.map(
    (item) => ({ kind: 'item', id: item, blob: version(item), sha256: 'x', length: 1 }) as ManifestEntry,
  );
  const record = { mailboxId: MAILBOX, upn: 'ana@contoso.example', snapshotId, takenAt };
  return writePlainSnapshot(vault, { ...record, entries: [inbox, ...entries] });
}

/** The snapshot rewritten as one committed with a manifest index, as every snapshot now is. */
async function withManifestIndex(record: SnapshotRecord): Promise<SnapshotRecord & { manifestIndexBlob: string }> {
  const manifestIndexBlob = layout.manifestIndex(MAILBOX, record.snapshotId);
  await vault.writeText(manifestIndexBlob, '{}\n');
  const indexed = { ...record, manifestIndexBlob };
  await vault.writeJson(layout.snapshotRecord(MAILBOX, record.snapshotId), indexed);
  return indexed;
}

async function exists(name: string): Promise<boolean> {
  for await (const found of vault.listNames(name)) if (found === name) return true;
  return false;
}

async function namesUnder(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const name of vault.listNames(prefix)) names.push(name);
  return names;
}

/** Every blob of the vault with its ETag: equal before and after only if nothing was written or deleted. */
async function vaultContents(): Promise<string[]> {
  const blobs: string[] = [];
  for await (const blob of vault.container.listBlobsFlat()) blobs.push(`${blob.name} ${blob.properties.etag}`);
  return blobs;
}

function input(overrides: Partial<PruneInput> = {}): PruneInput {
  return {
    mailboxKey: KEY,
    policy,
    now,
    dryRun: false,
    protectedSnapshots: [],
    inFlight: new Set(),
    ...overrides,
  };
}

/** Versions of a, b, c and d, of 100 to 400 bytes. */
async function storeFourVersions() {
  for (const [item, bytes] of [
    ['a', 100],
    ['b', 200],
    ['c', 300],
    ['d', 400],
  ] as const)
    await storeVersion(item, bytes);
}

/** An old snapshot (expired) with a, b; a newer one (kept) with b, c; d is stored but referenced by neither. */
async function twoSnapshots() {
  await storeFourVersions();
  const old = await snapshot('20261001T020000Z-old', '2026-10-01T02:00:00.000Z', ['a', 'b']);
  const recent = await snapshot('20261122T020000Z-new', '2026-11-22T02:00:00.000Z', ['b', 'c']);
  return { old, recent };
}

beforeEach(async () => {
  ({ vault } = await freshVault('prune'));
});
afterEach(() => vi.restoreAllMocks());

describe('pruning one mailbox', () => {
  it('deletes the expired snapshot and exactly the versions no remaining snapshot references', async () => {
    const { old, recent } = await twoSnapshots();
    const result = await pruneMailbox(vault, input());
    expect(result).toMatchObject({
      mailboxKey: KEY,
      mailboxId: MAILBOX,
      upn: 'ana@contoso.example',
      dryRun: false,
      snapshotsKept: [recent.snapshotId],
      snapshotsExpired: [old.snapshotId],
      snapshotsProtected: [],
      versionsDeleted: 2,
      bytesFreed: 100 + 400,
      immutable: [],
    });
    expect(await exists(layout.snapshotRecord(MAILBOX, old.snapshotId))).toBe(false);
    expect(await exists(old.manifestBlob)).toBe(false);
    expect(await exists(layout.snapshotRecord(MAILBOX, recent.snapshotId))).toBe(true);
    expect(await exists(recent.manifestBlob)).toBe(true);
    expect([await exists(version('a')), await exists(version('b')), await exists(version('c'))]).toEqual([
      false,
      true,
      true,
    ]);
    expect(await exists(version('d'))).toBe(false);
  });

  it('deletes the record before the manifest, so a cut-short prune never leaves a record without its manifest', async () => {
    const { old } = await twoSnapshots();
    const order: string[] = [];
    const real = vault.deleteBlob.bind(vault);
    vi.spyOn(vault, 'deleteBlob').mockImplementation(async (name) => (order.push(name), real(name)));
    await pruneMailbox(vault, input());
    expect(order.slice(0, 2)).toEqual([layout.snapshotRecord(MAILBOX, old.snapshotId), old.manifestBlob]);
  });

  it('keeps a snapshot a running restore reads, and everything it references', async () => {
    const { old } = await twoSnapshots();
    const result = await pruneMailbox(vault, input({ protectedSnapshots: [old.snapshotId] }));
    expect(result.snapshotsExpired).toEqual([]);
    expect(result.snapshotsProtected).toEqual([old.snapshotId]);
    expect(await exists(layout.snapshotRecord(MAILBOX, old.snapshotId))).toBe(true);
    expect(await exists(version('a'))).toBe(true);
    expect(result.versionsDeleted).toBe(1); // d only
  });

  it('keeps versions an uncommitted run has recorded', async () => {
    await twoSnapshots();
    const result = await pruneMailbox(vault, input({ inFlight: new Set([version('d')]) }));
    expect(await exists(version('d'))).toBe(true);
    expect(await exists(version('a'))).toBe(false);
    expect(result.versionsDeleted).toBe(1);
  });

  it('in a dry run reports the same and writes nothing: no delete, no mark, no directory entry', async () => {
    const { old } = await twoSnapshots();
    const before = await vaultContents();
    const result = await pruneMailbox(vault, input({ dryRun: true }));
    expect(result).toMatchObject({ dryRun: true, snapshotsExpired: [old.snapshotId], versionsDeleted: 2 });
    expect(result.bytesFreed).toBe(500);
    expect(await vaultContents()).toEqual(before);
  });

  it('leaves the mailbox’s directory entry naming the snapshots left, and no snapshot marked expiring', async () => {
    const { recent } = await twoSnapshots();
    await pruneMailbox(vault, input());
    expect((await readDirectory(vault)).get(KEY)).toMatchObject({
      snapshots: 1,
      newest: { snapshotId: recent.snapshotId },
    });
    expect(await namesUnder(`${layout.byKey.mailbox(KEY)}state/expiring/`)).toEqual([]);
  });

  it('deletes an expired snapshot’s manifest index with its manifest', async () => {
    const { old } = await twoSnapshots();
    const indexed = await withManifestIndex(old);
    const result = await pruneMailbox(vault, input());
    expect(await exists(indexed.manifestIndexBlob)).toBe(false);
    expect(result.immutable).toEqual([]);
  });

  it('reports a manifest index under WORM, the snapshot being gone all the same', async () => {
    const { old } = await twoSnapshots();
    const indexed = await withManifestIndex(old);
    const real = vault.deleteBlob.bind(vault);
    vi.spyOn(vault, 'deleteBlob').mockImplementation(async (name) =>
      name === indexed.manifestIndexBlob ? 'immutable' : real(name),
    );
    const result = await pruneMailbox(vault, input());
    expect(result.snapshotsExpired).toEqual([old.snapshotId]);
    expect(result.immutable).toEqual([
      { blob: indexed.manifestIndexBlob, reason: 'manifest index under a retention policy' },
    ]);
    expect(await exists(version('a'))).toBe(false);
  });

  it('sorts the references of a mailbox too large for memory in its own folder, and deletes the sorted runs, also after a failed sweep', async () => {
    await storeFourVersions();
    await snapshot('20261001T020000Z-old', '2026-10-01T02:00:00.000Z', ['a', 'b']);
    const fillers = Array.from({ length: DEFAULT_RECORDS_IN_MEMORY }, (_, i) => `never-stored-${i}`);
    await snapshot('20261122T020000Z-new', '2026-11-22T02:00:00.000Z', ['b', 'c', ...fillers]);
    const sortFolder = `${layout.byKey.mailbox(KEY)}state/prune-sort/`;
    const writes = vi.spyOn(vault, 'writeNdjsonGz');
    const real = vault.deleteBlob.bind(vault);
    const failing = vi.spyOn(vault, 'deleteBlob').mockImplementation(async (name) => {
      if (name === version('a')) throw new Error('storage unavailable');
      return real(name);
    });
    await expect(pruneMailbox(vault, input())).rejects.toThrow('storage unavailable');
    expect(await namesUnder(sortFolder)).toEqual([]);
    failing.mockRestore();
    await pruneMailbox(vault, input());
    expect(await namesUnder(sortFolder)).toEqual([]);
    const runs = writes.mock.calls.map(([name]) => name);
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.filter((name) => !name.startsWith(sortFolder))).toEqual([]);
    expect([await exists(version('a')), await exists(version('b')), await exists(version('c'))]).toEqual([
      false,
      true,
      true,
    ]);
    expect(await exists(version('d'))).toBe(false);
  });

  it('leaves a snapshot whose record is under WORM, with everything it references, and reports it', async () => {
    const { old } = await twoSnapshots();
    const recordBlob = layout.snapshotRecord(MAILBOX, old.snapshotId);
    const real = vault.deleteBlob.bind(vault);
    vi.spyOn(vault, 'deleteBlob').mockImplementation(async (name) =>
      name === recordBlob || name === version('d') ? 'immutable' : real(name),
    );
    const result = await pruneMailbox(vault, input());
    expect(await exists(old.manifestBlob)).toBe(true);
    expect(await exists(version('a'))).toBe(true);
    expect(result.versionsDeleted).toBe(0);
    expect(result.bytesFreed).toBe(0);
    expect(result.immutable).toEqual([
      { blob: recordBlob, reason: 'snapshot record under a retention policy' },
      { blob: version('d'), reason: 'item version under a retention policy' },
    ]);
  });

  it('reports a manifest under WORM and still frees what only the expired snapshot referenced', async () => {
    const { old } = await twoSnapshots();
    const real = vault.deleteBlob.bind(vault);
    vi.spyOn(vault, 'deleteBlob').mockImplementation(async (name) =>
      name === old.manifestBlob ? 'immutable' : real(name),
    );
    const result = await pruneMailbox(vault, input());
    expect(result.immutable).toEqual([{ blob: old.manifestBlob, reason: 'manifest under a retention policy' }]);
    expect(await exists(version('a'))).toBe(false);
  });

  it('counts neither freed nor immutable a version someone else deleted first', async () => {
    await twoSnapshots();
    const real = vault.deleteBlob.bind(vault);
    vi.spyOn(vault, 'deleteBlob').mockImplementation(async (name) => (name === version('d') ? 'absent' : real(name)));
    const result = await pruneMailbox(vault, input());
    expect(result).toMatchObject({ versionsDeleted: 1, bytesFreed: 100, immutable: [] });
  });

  it('deletes nothing once the lease is lost', async () => {
    await twoSnapshots();
    const assertOwned = () => {
      throw new Error('lease lost');
    };
    await expect(pruneMailbox(vault, input({ assertOwned }))).rejects.toThrow('lease lost');
    expect(await exists(version('d'))).toBe(true);
    expect(await exists(version('a'))).toBe(true);
  });

  it('keeps the only snapshot of a mailbox however old, and every version it references', async () => {
    await storeVersion('a', 10);
    const only = await snapshot('20200101T020000Z-only', '2020-01-01T02:00:00.000Z', ['a']);
    const result = await pruneMailbox(vault, input());
    expect(result.snapshotsKept).toEqual([only.snapshotId]);
    expect(result.versionsDeleted).toBe(0);
  });

  it('reports an empty mailbox without names', async () => {
    const result = await pruneMailbox(vault, input());
    expect(result).toMatchObject({ mailboxId: null, upn: null, snapshotsKept: [], versionsDeleted: 0 });
  });
});

describe('restores in progress', () => {
  async function request(restoreId: string, snapshotId: string) {
    await vault.writeJson(layout.restoreRequest(restoreId), {
      requestedAt: now.toISOString(),
      source: { mailboxId: MAILBOX, snapshotId },
    });
  }

  it('protect the snapshots they read until their report or cancel is written, whatever their age', async () => {
    await request('restore-20200101T000000Z-00000001', 's1');
    await request('restore-20261123T000000Z-00000002', 's2');
    await request('restore-20261123T000000Z-00000003', 's3');
    await request('restore-20261123T000000Z-00000004', 's4');
    await vault.writeJson(layout.restoreReport('restore-20261123T000000Z-00000003'), {});
    await vault.writeJson(layout.restoreCanceled('restore-20261123T000000Z-00000004'), {});
    await vault.writeJson('restores/restore-20261123T000000Z-00000005/plan-summary.json', {}); // no request
    const found = await findRestoresInProgress(vault);
    expect([...found.inProgress.keys()]).toEqual([KEY]);
    expect(found.inProgress.get(KEY)).toEqual(['s1', 's2']);
    expect(found.abandoned).toEqual([]);
  });
});

describe('restore and download requests whose orchestration never started', () => {
  const startBy = '2026-11-23T06:00:00.000Z';
  const longAfter = new Date(Date.parse(startBy) + ABANDONED_AFTER_DEADLINE_IN_MS + 1);
  const started = new Set(['restore-started']);
  const asked: string[] = [];
  const orchestrationExists = async (id: string) => {
    asked.push(id);
    return started.has(id);
  };
  beforeEach(() => void asked.splice(0));

  async function request(restoreId: string, snapshotId: string, deadline: { startBy?: string } = { startBy }) {
    await vault.writeJson(layout.restoreRequest(restoreId), {
      requestedAt: now.toISOString(),
      ...deadline,
      source: { mailboxId: MAILBOX, snapshotId },
    });
  }

  it('protect nothing once long past their start deadline, and are named; a started one still protects', async () => {
    await request('restore-started', 's1');
    await request('restore-orphan', 's2');
    await vault.writeJson(layout.downloadRequest('download-orphan'), {
      startBy,
      source: { mailboxId: MAILBOX, snapshotId: 's3' },
    });
    const found = await findSnapshotReadsInProgress(vault, { now: longAfter, orchestrationExists });
    expect(found.inProgress.get(KEY)).toEqual(['s1']);
    expect(found.abandoned).toEqual([
      { id: 'restore-orphan', mailboxKey: KEY, snapshotId: 's2', startBy },
      { id: 'download-orphan', mailboxKey: KEY, snapshotId: 's3', startBy },
    ]);
  });

  it('protect until their deadline is long past, without asking Durable', async () => {
    await request('restore-orphan', 's2');
    const atMargin = new Date(Date.parse(startBy) + ABANDONED_AFTER_DEADLINE_IN_MS);
    const found = await findRestoresInProgress(vault, { now: atMargin, orchestrationExists });
    expect(found.inProgress.get(KEY)).toEqual(['s2']);
    expect(found.abandoned).toEqual([]);
    expect(asked).toEqual([]);
  });

  it('without a deadline written, take it from the request time; with neither, always protect', async () => {
    await request('restore-old', 's1', {});
    await vault.writeJson(layout.downloadRequest('download-bare'), {
      source: { mailboxId: MAILBOX, snapshotId: 's2' },
    });
    const oldDeadline = new Date(now.getTime() + READER_START_WINDOW_IN_MS).toISOString();
    const justBefore = new Date(Date.parse(oldDeadline) + ABANDONED_AFTER_DEADLINE_IN_MS);
    expect((await findSnapshotReadsInProgress(vault, { now: justBefore, orchestrationExists })).abandoned).toEqual([]);
    const after = new Date(justBefore.getTime() + 1);
    const found = await findSnapshotReadsInProgress(vault, { now: after, orchestrationExists });
    expect(found.inProgress.get(KEY)).toEqual(['s2']);
    expect(found.abandoned).toEqual([{ id: 'restore-old', mailboxKey: KEY, snapshotId: 's1', startBy: oldDeadline }]);
  });

  it('of another mailbox than the one pruned are not asked about, and count as in progress', async () => {
    await request('restore-orphan', 's2');
    const found = await findRestoresInProgress(vault, { now: longAfter, orchestrationExists, mailboxKey: 'other' });
    expect(found.inProgress.get(KEY)).toEqual(['s2']);
    expect(found.abandoned).toEqual([]);
    expect(asked).toEqual([]);
  });

  it('are started by their trigger only before their deadline', () => {
    expect(startsInTime(startBy, new Date(Date.parse(startBy) - 1))).toBe(true);
    expect(startsInTime(startBy, new Date(startBy))).toBe(false);
  });

  it('are named once by the prune, whichever of its two reads of running restores found them', async () => {
    const { old } = await twoSnapshots();
    await request('restore-orphan', old.snapshotId);
    const abandonedReadCheck = { now: longAfter, orchestrationExists, mailboxKey: KEY };
    const firstRead = await findSnapshotReadsInProgress(vault, abandonedReadCheck); // the caller's, holding the lease
    await request('restore-late', old.snapshotId); // written after that read, found by the prune's own
    const result = await pruneMailbox(vault, input({ abandonedReads: firstRead.abandoned, abandonedReadCheck }));
    expect(result.snapshotsExpired).toEqual([old.snapshotId]);
    expect(result.abandonedReads.map((read) => read.id)).toEqual(['restore-orphan', 'restore-late']);
  });

  it('are all kept without a way to ask Durable', async () => {
    await request('restore-orphan', 's2');
    expect((await findRestoresInProgress(vault)).inProgress.get(KEY)).toEqual(['s2']);
  });

  it('let the prune expire their snapshot, named in its result; a started restore’s snapshot stays', async () => {
    const { old } = await twoSnapshots();
    const older = await snapshot('20260901T020000Z-older', '2026-09-01T02:00:00.000Z', ['a']);
    await request('restore-started', older.snapshotId);
    await request('restore-orphan', old.snapshotId);
    const abandonedReadCheck = { now: longAfter, orchestrationExists };
    const result = await pruneMailbox(vault, input({ abandonedReadCheck }));
    expect(result.snapshotsExpired).toEqual([old.snapshotId]);
    expect(result.snapshotsProtected).toEqual([older.snapshotId]);
    expect(result.abandonedReads).toEqual([
      { id: 'restore-orphan', mailboxKey: KEY, snapshotId: old.snapshotId, startBy },
    ]);
    expect(await exists(layout.snapshotRecord(MAILBOX, old.snapshotId))).toBe(false);
    expect(await exists(layout.snapshotRecord(MAILBOX, older.snapshotId))).toBe(true);
    expect(await exists(version('a'))).toBe(true); // the started restore's snapshot references it
  });
});

describe('pruning as the mailbox’s owner', () => {
  const RUN = 'backup-20261123T020000Z-00000001';

  async function owner(): Promise<MailboxOwner> {
    return (await vault.readJson<MailboxOwner>(layout.byKey.owner(KEY)))!;
  }

  async function recordRun() {
    await vault.writeJson(layout.runBatchResult(RUN, MAILBOX, 0), {
      results: [
        { ok: true, blob: version('exported') },
        { ok: false, itemId: 'x', error: 'failed' },
      ],
    });
    await vault.writeNdjsonGz(layout.runChanges(RUN, MAILBOX), [
      { kind: 'upsert', item: { id: 'k' }, known: { blob: version('known') } },
      { kind: 'upsert', item: { id: 'n' } },
      { kind: 'remove', id: 'r', folderId: 'f' },
    ]);
  }

  it('counts every version the owning run has recorded as in flight, and bumps the prune count', async () => {
    await claimMailbox(vault, KEY, RUN, now);
    await recordRun();
    const inFlight = await pruneOwned(vault, KEY, async (versions) => versions);
    expect([...inFlight].sort()).toEqual([version('exported'), version('known')].sort());
    expect(await owner()).toMatchObject({ prunes: 1, holder: { runId: RUN, prunesAtClaim: 0 } });
  });

  it('counts nothing in flight once the owning run has recorded its mailbox result', async () => {
    await claimMailbox(vault, KEY, RUN, now);
    await recordRun();
    await vault.writeJson(layout.runMailboxResult(RUN, MAILBOX), { status: 'Completed' });
    expect((await pruneOwned(vault, KEY, async (versions) => versions)).size).toBe(0);
  });

  it('does not count a dry run as a prune', async () => {
    await pruneOwned(vault, KEY, async () => undefined, { dryRun: true });
    expect((await owner()).prunes).toBe(0);
    await pruneOwned(vault, KEY, async () => undefined);
    await pruneOwned(vault, KEY, async () => undefined);
    expect((await owner()).prunes).toBe(2);
  });

  it('stops a prune whose lease renewal failed: another worker may own the mailbox', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const outcome = await pruneOwned(vault, KEY, async (_, assertOwned) => {
        assertOwned(); // held
        await vault.container.getBlobClient(layout.byKey.owner(KEY)).getBlobLeaseClient().breakLease(0);
        vi.advanceTimersByTime(20_000); // the renewal is due, and fails
        for (let tries = 0; tries < 100; tries++) {
          try {
            assertOwned();
          } catch (error) {
            return (error as Error).message;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return 'still owned';
      });
      expect(outcome).toMatch(/Lost the lease/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('skips a batch result that vanished between listing and reading', async () => {
    await vault.writeJson(layout.runBatchResult(RUN, MAILBOX, 1), { results: [{ ok: true, blob: 'gone' }] });
    await vault.writeJson(layout.runBatchResult(RUN, MAILBOX, 2), { results: [{ ok: true, blob: 'v' }] });
    const real = vault.readJson.bind(vault);
    vi.spyOn(vault, 'readJson').mockImplementation(async (name) =>
      name === layout.runBatchResult(RUN, MAILBOX, 1) ? undefined : real(name),
    );
    expect([...(await recordedVersions(vault, RUN, KEY))]).toEqual(['v']);
  });

  it('reads a run’s recorded versions without its change list', async () => {
    await vault.writeJson(layout.runBatchResult(RUN, MAILBOX, 3), { results: [{ ok: true, blob: 'v' }] });
    expect([...(await recordedVersions(vault, RUN, KEY))]).toEqual(['v']);
  });
});
