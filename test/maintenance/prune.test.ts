import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { RestError } from '@azure/storage-blob';
import { pruneMailbox } from '../../shared/maintenance/prune.js';
import { applyRetention } from '../../shared/maintenance/retention.js';
import { verifyMailbox } from '../../shared/maintenance/verify.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import type { ManifestEntry, SnapshotRecord } from '../../shared/vault/records.js';
import type { RunReport } from '../../shared/backup/types.js';
import type { RestoreReport } from '../../shared/restore/types.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

/**
 * Months of snapshots of a changing mailbox (real backups, their times then spread over months), pruned by the
 * policy: exactly the unreferenced versions go, every kept snapshot still restores, an interrupted prune leaves
 * nothing dangling, WORM-protected blobs are left and reported, and verification finds damage precisely.
 */

let stack: Stack;
const UPN = 'pat@contoso.example';
const TARGET = 'pat-restores@contoso.example';
const policy = { keepAllDays: 7, dailyDays: 14, weeklyWeeks: 6, monthlyMonths: 4 };
const now = new Date('2026-11-23T12:00:00Z');
let mailboxKey: string;

async function records(): Promise<SnapshotRecord[]> {
  const out: SnapshotRecord[] = [];
  for await (const name of stack.vault.listNames(layout.byKey.snapshots(mailboxKey)))
    if (name.endsWith('.json')) out.push((await stack.vault.readJson<SnapshotRecord>(name))!);
  return out;
}

async function versionBlobs(): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const name of stack.vault.listNames(layout.byKey.items(mailboxKey))) out.add(name);
  return out;
}

async function referencedBy(snapshots: SnapshotRecord[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const s of snapshots)
    for await (const e of stack.vault.readNdjsonGz<ManifestEntry>(s.manifestBlob))
      if (e.kind === 'item') out.add(e.blob);
  return out;
}

beforeAll(async () => {
  stack = await startStack({
    mailboxes: [
      { upn: UPN, items: 25, sizes: [2_000, 20_000] },
      { upn: TARGET, items: 0 },
    ],
  });
  const tenant = stack.sim.tenant;
  const mailbox = tenant.mailbox(UPN);
  mailboxKey = keyOf(mailbox.id);
  // 16 runs; between runs items are edited, added and deleted, so versions come and go.
  for (let run = 0; run < 16; run++) {
    const ids = [...mailbox.items.keys()];
    tenant.changeItem(mailbox, ids[run % ids.length]!);
    tenant.addItem(mailbox, 'inbox', { size: 5_000 });
    if (run % 3 === 2) tenant.deleteItem(mailbox, ids[(run * 7) % ids.length]!);
    const { status } = await runBackup(stack);
    expect((status.report as RunReport).status).toBe('Completed');
  }
  // Spread the snapshots over four and a half months, newest last, as if taken on those days. (In the order
  // they were taken: ids only sort by the second, and two of these runs can start within one.)
  const all = (await records()).sort((a, b) => a.takenAt.localeCompare(b.takenAt));
  expect(all).toHaveLength(16);
  const ages = [130, 100, 75, 60, 45, 40, 30, 20, 15, 12, 10, 6, 4, 3, 1, 0];
  for (const [i, record] of all.entries()) {
    record.takenAt = new Date(now.getTime() - ages[i]! * 86_400_000 - 3600_000).toISOString();
    await stack.vault.writeJson(layout.snapshotRecord(record.mailboxId, record.snapshotId), record);
  }
}, 300_000);
afterAll(() => stack.close());

describe('pruning', () => {
  it('a dry run reports what would go and deletes nothing', async () => {
    const before = await versionBlobs();
    const dry = await pruneMailbox(stack.vault, {
      mailboxKey,
      policy,
      now,
      dryRun: true,
      protectedSnapshots: [],
      inFlight: new Set(),
    });
    expect(dry.snapshotsExpired.length).toBeGreaterThan(0);
    expect(dry.versionsDeleted).toBeGreaterThan(0);
    expect(dry.bytesFreed).toBeGreaterThan(0);
    expect(await versionBlobs()).toEqual(before);
    expect((await records()).length).toBe(16);
  });

  it('keeps exactly the policy’s snapshots and frees exactly the versions nothing kept references', async () => {
    const all = await records();
    const expected = applyRetention(all, policy, now);
    const keptReferences = await referencedBy(expected.keep);
    const before = await versionBlobs();
    const unreferenced = [...before].filter((b) => !keptReferences.has(b));
    expect(unreferenced.length).toBeGreaterThan(0);

    const result = await pruneMailbox(stack.vault, {
      mailboxKey,
      policy,
      now,
      dryRun: false,
      protectedSnapshots: [],
      inFlight: new Set(),
    });
    expect(new Set(result.snapshotsKept)).toEqual(new Set(expected.keep.map((s) => s.snapshotId)));
    expect((await records()).map((r) => r.snapshotId).sort()).toEqual(expected.keep.map((s) => s.snapshotId).sort());
    expect(result.versionsDeleted).toBe(unreferenced.length);
    expect(await versionBlobs()).toEqual(keptReferences);
    const full = await verifyMailbox(stack.vault, { mailboxKey, mode: 'full', sample: 0, seed: 's' });
    expect(full.problems).toEqual([]);
  });

  it('leaves every kept snapshot restorable', async () => {
    for (const snapshot of await records()) {
      const { status } = await runRestore(stack, {
        sourceMailbox: UPN,
        snapshot: snapshot.snapshotId,
        targetMailbox: TARGET,
        collisions: 'copy',
      });
      const report = status.report as RestoreReport;
      expect(report.status, snapshot.snapshotId).toBe('Completed');
      expect(report.counts.imported).toBe(snapshot.itemCount);
    }
  }, 180_000); // a restore per snapshot, one after another: over a minute on a busy machine
});

describe('an interrupted prune', () => {
  it('leaves orphans at worst, never a snapshot pointing at a missing blob', async () => {
    // Make two more snapshots expire, then stop the prune after a few deletions.
    const all = (await records()).sort((a, b) => a.takenAt.localeCompare(b.takenAt));
    const later = new Date(now.getTime() + 200 * 86_400_000);
    for (const stop of [1, 3, 6]) {
      let deletions = 0;
      const original = stack.vault.deleteBlob.bind(stack.vault);
      stack.vault.deleteBlob = async (name: string) => {
        if (++deletions > stop) throw new Error('the worker stopped');
        return original(name);
      };
      await expect(
        pruneMailbox(stack.vault, {
          mailboxKey,
          policy,
          now: later,
          dryRun: false,
          protectedSnapshots: [],
          inFlight: new Set(),
        }),
      ).rejects.toThrow('the worker stopped');
      stack.vault.deleteBlob = original;
      const full = await verifyMailbox(stack.vault, { mailboxKey, mode: 'full', sample: 0, seed: 's' });
      expect(full.problems, `after ${stop} deletions`).toEqual([]);
    }
    expect(all.length).toBeGreaterThan(1);
  });
});

describe('immutability', () => {
  it('leaves versions a WORM policy protects and reports them, without failing', async () => {
    const later = new Date(now.getTime() + 400 * 86_400_000);
    const locked = new Set<string>();
    const container = stack.vault.container;
    const getBlobClient = container.getBlobClient.bind(container);
    container.getBlobClient = (name: string) => {
      const client = getBlobClient(name);
      if (name.includes('/items/') && locked.size < 2) locked.add(name);
      if (locked.has(name)) {
        client.delete = async () => {
          throw new RestError('This operation is not permitted as the blob is immutable due to a policy.', {
            statusCode: 409,
            code: 'BlobImmutableDueToPolicy',
          });
        };
      }
      return client;
    };
    try {
      const result = await pruneMailbox(stack.vault, {
        mailboxKey,
        policy,
        now: later,
        dryRun: false,
        protectedSnapshots: [],
        inFlight: new Set(),
      });
      expect(result.immutable.map((i) => i.blob).sort()).toEqual([...locked].sort());
      for (const blob of locked) expect(await stack.vault.getItemVersion(blob)).toBeDefined();
    } finally {
      container.getBlobClient = getBlobClient;
    }
  });
});

describe('verification', () => {
  it('names a flipped byte, a deleted blob and a manifest entry without a blob, by snapshot and item', async () => {
    const [latest] = (await records()).sort((a, b) => b.takenAt.localeCompare(a.takenAt));
    const entries: ManifestEntry[] = [];
    for await (const e of stack.vault.readNdjsonGz<ManifestEntry>(latest!.manifestBlob)) entries.push(e);
    const items = entries.filter((e) => e.kind === 'item');
    const [flipped, deleted] = [items[0]!, items[1]!];
    // A flipped byte in one stored version.
    const blob = stack.vault.container.getBlockBlobClient(flipped.blob);
    const bytes = await blob.downloadToBuffer();
    bytes[7] = bytes[7]! ^ 0x01;
    await blob.upload(bytes, bytes.length, { metadata: (await blob.getProperties()).metadata });
    // A deleted version.
    await stack.vault.container.getBlobClient(deleted.blob).delete();
    // A manifest entry whose blob never existed (a new manifest, committed with its hash).
    const ghost = { ...items[2]!, id: 'AAMkADghost=', blob: `${layout.byKey.items(mailboxKey)}ghost/none` };
    const rewritten = await stack.vault.writeNdjsonGz(latest!.manifestBlob, [...entries, ghost]);
    await stack.vault.writeJson(layout.snapshotRecord(latest!.mailboxId, latest!.snapshotId), {
      ...latest,
      manifestSha256: rewritten.sha256,
    });

    const full = await verifyMailbox(stack.vault, { mailboxKey, mode: 'full', sample: 0, seed: 's' });
    const here = full.problems.filter((p) => p.snapshotId === latest!.snapshotId);
    expect(here).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'checksumMismatch',
          itemId: flipped.id,
          blob: flipped.blob,
          expected: flipped.sha256,
          actual: createHash('sha256').update(bytes).digest('hex'),
        }),
        expect.objectContaining({ kind: 'missingBlob', itemId: deleted.id, blob: deleted.blob }),
        expect.objectContaining({ kind: 'missingBlob', itemId: 'AAMkADghost=' }),
      ]),
    );
    expect(here).toHaveLength(3);
    // A manifest changed after its commit is caught too.
    await stack.vault.writeNdjsonGz(latest!.manifestBlob, entries);
    const damaged = await verifyMailbox(stack.vault, { mailboxKey, mode: 'sample', sample: 5, seed: 's' });
    expect(damaged.problems).toEqual([
      expect.objectContaining({ kind: 'manifestDamaged', snapshotId: latest!.snapshotId }),
    ]);
  });
});
