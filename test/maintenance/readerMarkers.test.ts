import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppConfig } from '../../shared/config.js';
import { READER_START_WINDOW_IN_MS, recordSnapshotRead } from '../../shared/maintenance/expiringSnapshots.js';
import { backfillReaderMarkers, READER_MARKERS_SETTLE_IN_MS } from '../../shared/maintenance/readerMarkers.js';
import { listMaintenanceMailboxes, pruneMaintenanceMailbox } from '../../shared/maintenance/run.js';
import type { PruneResult } from '../../shared/maintenance/prune.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import type { ManifestEntry, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import { writePlainSnapshot } from '../support/plainSnapshot.js';
import { freshVault } from '../support/vault.js';

/**
 * A prune reads only its own mailbox's readers (shared/maintenance/readerMarkers.ts): the restores and downloads
 * of other mailboxes cost it nothing, a running reader of its own still protects its snapshot, and requests
 * written before markers were protect theirs through the backfill. Through the maintenance activity's own entry
 * (pruneMaintenanceMailbox), on a vault written directly.
 */

const A = 'mailbox-a';
const B = 'mailbox-b';
const policy = { keepAllDays: 7, dailyDays: 0, weeklyWeeks: 0, monthlyMonths: 0 };
const config = { maintenance: { retention: policy } } as unknown as AppConfig;
/** The maintenance run's start; requests are written on the real clock, long before it. */
const runStart = new Date('2026-11-23T05:30:00Z');
const OLD = '20261001T020000Z-old';
const NEW = '20261122T020000Z-new';
let vault: VaultStore;
let runs = 0;

async function snapshot(mailboxId: string, snapshotId: string, takenAt: string): Promise<SnapshotRecord> {
  const blob = layout.itemVersion(mailboxId, 'a', snapshotId);
  await vault.writeItemVersion(blob, Buffer.from(snapshotId));
  const entries = [{ kind: 'item', id: 'a', blob, sha256: 'x', length: 1 } as ManifestEntry];
  return writePlainSnapshot(vault, { mailboxId, upn: `${mailboxId}@contoso.example`, snapshotId, takenAt, entries });
}

/** An old snapshot the policy expires and a recent one it keeps. */
async function twoSnapshots(mailboxId: string) {
  await snapshot(mailboxId, OLD, '2026-10-01T02:00:00.000Z');
  await snapshot(mailboxId, NEW, '2026-11-22T02:00:00.000Z');
}

/** A reader accepted as the API accepts it (marker, request, check), at `now`. */
async function accept(kind: 'restore' | 'download', id: string, mailboxId: string, snapshotId: string, now?: Date) {
  const source = { mailboxId, snapshotId };
  const startBy = await recordSnapshotRead(vault, { kind, id }, { source }, source, now);
  expect(startBy).not.toBeNull();
}

/** A request as code older than markers wrote it: no marker. */
async function legacyRequest(id: string, mailboxId: string, snapshotId: string) {
  await vault.writeJson(layout.restoreRequest(id), {
    requestedAt: new Date().toISOString(),
    source: { mailboxId, snapshotId },
  });
}

/** Two backfills an hour apart: the vault's prunes read markers only from then on. */
async function completeBackfill(from: Date = new Date(runStart.getTime() - 2 * READER_MARKERS_SETTLE_IN_MS)) {
  await backfillReaderMarkers(vault, from);
  await backfillReaderMarkers(vault, new Date(from.getTime() + READER_MARKERS_SETTLE_IN_MS));
}

const started = new Set<string>();
const orchestrationExists = async (id: string) => started.has(id);

/** One maintenance run's prune of `mailboxId`, as its activity runs it. */
async function prune(mailboxId: string, startedAt: Date = runStart): Promise<PruneResult> {
  const id = `maintenance-${++runs}`;
  await vault.writeJson(layout.maintenanceMailboxes(id), [keyOf(mailboxId)]);
  await pruneMaintenanceMailbox(
    vault,
    config,
    { id, index: 0, startedAt: startedAt.toISOString() },
    false,
    orchestrationExists,
  );
  return (await vault.readJson<PruneResult>(layout.maintenanceResult(id, 'prune', keyOf(mailboxId))))!;
}

const kept = async (mailboxId: string, snapshotId: string) =>
  (await vault.readJson(layout.snapshotRecord(mailboxId, snapshotId))) !== undefined;
const markerOf = (mailboxId: string, id: string) => layout.byKey.readerMarker(keyOf(mailboxId), id);

/** Every vault read (blob or listing) while `work` runs, by name or prefix. */
async function readsDuring(work: () => Promise<unknown>): Promise<string[]> {
  const reads: string[] = [];
  const readJson = vault.readJson.bind(vault);
  const listNames = vault.listNames.bind(vault);
  const listPrefixes = vault.listPrefixes.bind(vault);
  const listBlobs = vault.listBlobs.bind(vault);
  vi.spyOn(vault, 'readJson').mockImplementation((name) => (reads.push(name), readJson(name)));
  vi.spyOn(vault, 'listNames').mockImplementation((prefix) => (reads.push(`list ${prefix}`), listNames(prefix)));
  vi.spyOn(vault, 'listPrefixes').mockImplementation((prefix) => (reads.push(`list ${prefix}`), listPrefixes(prefix)));
  vi.spyOn(vault, 'listBlobs').mockImplementation((prefix) => (reads.push(`list ${prefix}`), listBlobs(prefix)));
  try {
    await work();
  } finally {
    vi.restoreAllMocks();
  }
  return reads;
}

beforeEach(async () => {
  ({ vault } = await freshVault('readers'));
  started.clear();
});
afterEach(() => {
  vi.restoreAllMocks();
  setVaultWriteHook(undefined);
});

describe('a prune of one mailbox', () => {
  /** A's prune's reads, on a fresh vault where B has `others` running restores and downloads (and A one). */
  async function pruneReadsWithOthers(others: number): Promise<string[]> {
    ({ vault } = await freshVault('readers'));
    await twoSnapshots(A);
    await twoSnapshots(B);
    await completeBackfill();
    await accept('restore', 'restore-a', A, NEW);
    for (let i = 0; i < others; i++) await accept(i % 2 ? 'download' : 'restore', `reader-b-${i}`, B, OLD);
    return readsDuring(() => prune(A));
  }

  it('reads no other mailbox’s restore or download, however many there are', async () => {
    const few = await pruneReadsWithOthers(2);
    const many = await pruneReadsWithOthers(12);
    expect(many.length).toBe(few.length);
    for (const reads of [few, many]) {
      expect(reads.filter((name) => /(reader-b-|list (restores|downloads)\/)/.test(name))).toEqual([]);
      expect(reads).toContain(layout.restoreRequest('restore-a')); // its own reader, and only it
      expect(reads).toContain(`list ${layout.byKey.readerMarkersPrefix(keyOf(A))}`);
    }
  });

  it('reads every request of the vault until the backfill is complete', async () => {
    await twoSnapshots(A);
    await twoSnapshots(B);
    await backfillReaderMarkers(vault, runStart); // the first pass only
    await accept('restore', 'reader-b-0', B, OLD);
    const reads = await readsDuring(() => prune(A));
    expect(reads).toContain('list restores/');
    expect(reads).toContain(layout.restoreRequest('reader-b-0'));
  });
});

describe('a reader of the mailbox pruned', () => {
  beforeEach(async () => {
    await twoSnapshots(A);
    await completeBackfill();
  });

  it('protects its snapshot while running, restore or download; once ended, neither it nor its marker stays', async () => {
    await accept('restore', 'restore-1', A, OLD);
    await accept('download', 'download-1', A, OLD);
    expect((await prune(A)).snapshotsProtected).toEqual([OLD]);
    expect(await kept(A, OLD)).toBe(true);

    await vault.writeJson(layout.restoreCanceled('restore-1'), {});
    expect((await prune(A)).snapshotsProtected).toEqual([OLD]); // the download still reads it
    expect(await vault.readJson(markerOf(A, 'restore-1'))).toBeUndefined();
    expect(await vault.readJson(markerOf(A, 'download-1'))).toBeDefined();

    await vault.writeJson(layout.downloadReport('download-1'), {});
    const result = await prune(A);
    expect(result.snapshotsExpired).toEqual([OLD]);
    expect(await kept(A, OLD)).toBe(false);
    expect(await vault.readJson(markerOf(A, 'download-1'))).toBeUndefined();
  });

  it('whose request is gone (withdrawn, or expired with its ended folder) protects nothing, and its marker goes', async () => {
    // Written after its request, withdrawn after it: a marker alone is a reader that will never read.
    const marker = { kind: 'download', id: 'download-gone', snapshotId: OLD, startBy: runStart.toISOString() };
    await vault.writeJson(markerOf(A, 'download-gone'), marker);
    const result = await prune(A);
    expect(result.snapshotsExpired).toEqual([OLD]);
    expect(result.abandonedReads).toEqual([]);
    expect(await vault.readJson(markerOf(A, 'download-gone'))).toBeUndefined();
  });

  it('whose orchestration never started is abandoned past its deadline, as a request without a marker was', async () => {
    const written = new Date('2026-11-22T00:00:00Z');
    await accept('restore', 'restore-orphan', A, OLD, written);
    const result = await prune(A);
    const startBy = new Date(written.getTime() + READER_START_WINDOW_IN_MS).toISOString();
    expect(result.abandonedReads).toEqual([{ id: 'restore-orphan', mailboxKey: keyOf(A), snapshotId: OLD, startBy }]);
    expect(result.snapshotsExpired).toEqual([OLD]);
    expect(await vault.readJson(markerOf(A, 'restore-orphan'))).toBeDefined(); // named again while its request stays
  });

  it('refused by a prune leaves neither request nor marker', async () => {
    await vault.writeJson(`${layout.byKey.mailbox(keyOf(A))}state/expiring/${OLD}.json`, { snapshotId: OLD });
    const source = { mailboxId: A, snapshotId: OLD };
    expect(await recordSnapshotRead(vault, { kind: 'download', id: 'download-late' }, { source }, source)).toBeNull();
    expect(await vault.readJson(layout.downloadRequest('download-late'))).toBeUndefined();
    expect(await vault.readJson(markerOf(A, 'download-late'))).toBeUndefined();
  });
});

describe('a request written before markers were', () => {
  beforeEach(() => twoSnapshots(A));

  it('protects its snapshot before the backfill, during it and after it', async () => {
    await legacyRequest('restore-legacy', A, OLD);
    expect((await prune(A)).snapshotsProtected).toEqual([OLD]);

    // The run's listing backfills: a first pass, then one an hour on completes it.
    await listMaintenanceMailboxes(vault, 'maintenance-first', null, runStart);
    expect(await vault.readJson(markerOf(A, 'restore-legacy'))).toMatchObject({ kind: 'restore', snapshotId: OLD });
    expect((await vault.readJson<{ completedAt?: string }>(layout.readerMarkersBackfilled()))?.completedAt).toBe(
      undefined,
    );
    await legacyRequest('restore-legacy-2', A, NEW); // an old instance still writing requests during the hour
    expect((await prune(A)).snapshotsProtected).toEqual([OLD]);

    const anHourOn = new Date(runStart.getTime() + READER_MARKERS_SETTLE_IN_MS);
    await listMaintenanceMailboxes(vault, 'maintenance-second', null, anHourOn);
    expect(await vault.readJson(layout.readerMarkersBackfilled())).toMatchObject({
      completedAt: anHourOn.toISOString(),
    });
    expect(await vault.readJson(markerOf(A, 'restore-legacy-2'))).toMatchObject({ snapshotId: NEW });
    const result = await prune(A, anHourOn);
    expect(result.snapshotsProtected).toEqual([OLD]);
    expect(await kept(A, OLD)).toBe(true);

    await vault.writeJson(layout.restoreReport('restore-legacy'), {});
    expect((await prune(A, anHourOn)).snapshotsExpired).toEqual([OLD]);
  });

  it('is listed once per run, not per mailbox: a completed backfill lists no request again', async () => {
    await completeBackfill();
    const reads = await readsDuring(() => listMaintenanceMailboxes(vault, 'maintenance-later', null, runStart));
    expect(reads).toEqual([layout.readerMarkersBackfilled(), 'list mailboxes/']);
  });
});

describe('a reader and a prune that cross (markers only)', () => {
  beforeEach(async () => {
    await twoSnapshots(A);
    await completeBackfill();
  });

  /** Holds the first write `matches` picks until the returned `release` is called; `reached` when it arrives. */
  function holdWrite(matches: (name: string) => boolean) {
    let arrived!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    setVaultWriteHook((write, phase) => {
      if (phase !== 'before' || held || !matches(write.blobName)) return undefined;
      held = true;
      arrived();
      return released;
    });
    return { reached, release };
  }

  for (const step of ['marker', 'request'] as const)
    it(`never leaves a reader accepted for a deleted snapshot: a whole prune runs as the reader writes its ${step}`, async () => {
      const at = holdWrite((name) =>
        step === 'marker' ? name.includes('/state/readers/') : name.endsWith('/request.json'),
      );
      const source = { mailboxId: A, snapshotId: OLD };
      const reading = recordSnapshotRead(vault, { kind: 'restore', id: `restore-${step}` }, { source }, source);
      await at.reached;
      setVaultWriteHook(undefined); // the prune's own writes go through
      const pruned = await prune(A);
      at.release();
      const accepted = (await reading) !== null;
      expect(accepted && !(await kept(A, OLD))).toBe(false);
      // The prune listed no marker (a request alone is not listed): it deleted the snapshot, and the reader,
      // checking after its marker, is refused.
      expect({ accepted, expired: pruned.snapshotsExpired }).toEqual({ accepted: false, expired: [OLD] });
    });

  it('refuses a reader that arrives after the prune listed the markers, before it deleted the snapshot', async () => {
    const at = holdWrite((name) => name === layout.snapshotRecord(A, OLD)); // the prune's delete of the record
    const pruning = prune(A);
    await at.reached;
    const source = { mailboxId: A, snapshotId: OLD };
    expect(await recordSnapshotRead(vault, { kind: 'restore', id: 'restore-late' }, { source }, source)).toBeNull();
    at.release();
    expect((await pruning).snapshotsExpired).toEqual([OLD]);
    expect(await vault.readJson(markerOf(A, 'restore-late'))).toBeUndefined();
  });
});
