import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { commitSnapshot, commitSnapshotSlice, type CommitOptions } from '../../shared/backup/commit.js';
import type { CommitProgress } from '../../shared/backup/commitProgress.js';
import type { NextDeltaState } from '../../shared/backup/plan.js';
import type { ChangeRecord, MailboxRunResult } from '../../shared/backup/types.js';
import { keyOf, layout } from '../../shared/vault/layout.js';
import { claimMailbox, withMailboxLease } from '../../shared/vault/mailboxOwner.js';
import { ManifestReader } from '../../shared/vault/manifestReader.js';
import type { DeltaState, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import {
  commitInput,
  firstNight,
  folders,
  itemsOf,
  MAILBOX,
  meta,
  secondNight,
  writeRun,
} from '../support/commitRun.js';
import { freshVault } from '../support/vault.js';

/**
 * A commit too large for one activity goes in slices, each resuming after the last key the one before it
 * resolved (commit.ts). Its snapshot must be the one a single activity builds, item for item, whatever the slice
 * budget; and a sweep between slices must not leave it referencing a version the sweep took.
 */

const NIGHTS = ['2026-11-01T02:00:00.000Z', '2026-11-02T02:00:00.000Z'] as const;
const ONE_SLICE: CommitOptions = { recordsInMemory: 4 };
const SLICED: CommitOptions = { recordsInMemory: 4, sliceRecords: 25 };

/** The commit, slice after slice, as the orchestration calls it; counts the slices. */
async function commitBySlices(
  vault: VaultStore,
  input: ReturnType<typeof commitInput>,
  options: CommitOptions,
  between: (slice: number) => Promise<void> = async () => {},
): Promise<{ result: MailboxRunResult; record: SnapshotRecord; slices: number }> {
  for (let slice = 0, slices = 1; ; slices++) {
    const step = await commitSnapshotSlice(vault, { ...input, slice }, () => new Date(input.takenAt), options);
    if ('result' in step) {
      const record = (await vault.readJson<SnapshotRecord>(layout.snapshotRecord(MAILBOX, input.snapshotId)))!;
      return { result: step.result, record, slices };
    }
    slice = step.nextSlice;
    await between(slice);
  }
}

/** What the run's commit left under its sorts' folder. */
async function scratchOf(vault: VaultStore, runId: string): Promise<string[]> {
  const names: string[] = [];
  for await (const name of vault.listNames(layout.runCommitSortPrefix(runId, MAILBOX))) names.push(name);
  return names;
}

/** The first night (120 items) and the second (see secondNight), each committed with `options`. */
async function twoNights(options: CommitOptions) {
  const { vault } = await freshVault();
  const plan1 = await writeRun(vault, 'run1', firstNight());
  const first = await commitBySlices(vault, commitInput('run1', NIGHTS[0], plan1), options);
  const night2 = secondNight();
  const plan2 = await writeRun(vault, 'run2', night2.records, night2.failing);
  const second = await commitBySlices(vault, commitInput('run2', NIGHTS[1], plan2), options);
  return { vault, first, second };
}

describe('a commit in slices', () => {
  it('builds the snapshot one activity builds, night after night, and leaves no scratch behind', async () => {
    const whole = await twoNights(ONE_SLICE);
    const sliced = await twoNights(SLICED);
    expect(whole.first.slices).toBe(1);
    expect(whole.second.slices).toBe(1);
    // 120 change records and 120 outcomes sorted, then 120 keys at 25 a slice.
    expect(sliced.first.slices).toBeGreaterThanOrEqual(6);
    expect(sliced.second.slices).toBeGreaterThanOrEqual(5);
    for (const night of ['first', 'second'] as const) {
      const [a, b] = [whole[night], sliced[night]];
      expect(b.result).toEqual(a.result);
      expect(await itemsOf(sliced.vault, b.record)).toEqual(await itemsOf(whole.vault, a.record));
      const { manifestSha256: _a, ...recordA } = a.record;
      const { manifestSha256: _b, ...recordB } = b.record;
      expect(recordB).toEqual(recordA);
    }
    expect(sliced.second.result.items).toMatchObject({ inSnapshot: 120, failed: 1, removed: 1 });
    for (const runId of ['run1', 'run2']) {
      expect(await sliced.vault.readJson(layout.runCommitProgress(runId, MAILBOX))).toBeUndefined();
      const scratch: string[] = [];
      for await (const name of sliced.vault.listNames(layout.runCommitSortPrefix(runId, MAILBOX))) scratch.push(name);
      expect(scratch).toEqual([]);
    }
  });

  it('reads its inputs over as many slices as they take, no slice more than its budget, a run a slice', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const checkpoints: CommitProgress[] = [];
    const { result } = await commitBySlices(vault, commitInput('run1', NIGHTS[0], plan), SLICED, async () => {
      checkpoints.push((await vault.readJson<CommitProgress>(layout.runCommitProgress('run1', MAILBOX)))!);
    });
    expect(result.items.inSnapshot).toBe(120);
    const reading = checkpoints.filter((checkpoint) => checkpoint.sort);
    // 123 change records (3 folders, 120 items) at 25 a slice, then 18 batch results in reads of 16.
    expect(reading.map((checkpoint) => checkpoint.sort!.changeRecords)).toEqual([25, 50, 75, 100, 123]);
    expect(reading.at(-1)!.sort).toEqual({ changeRecords: 123, changesRead: true, batchesRead: 16 });
    expect(checkpoints[reading.length]!.sort).toBeUndefined();
    // Each reading slice adds one run of the change records it read (4 records in memory would make 7).
    expect(reading.map((checkpoint) => checkpoint.runs.changes.length)).toEqual([1, 2, 3, 4, 5]);
    expect(checkpoints[reading.length]!.runs.outcomes).toHaveLength(2);
    // The facts gathered over the slices are the change list's whole: every folder.
    expect(
      checkpoints
        .at(-1)!
        .facts.folders.map((folder) => folder.id)
        .sort(),
    ).toEqual(['archive', 'inbox', 'notes']);
  });

  it('counts a batch without a result against the budget: a run of failed exports is read over slices too', async () => {
    const { vault } = await freshVault();
    // 420 items in 60 batches, none of whose export activities left a result (all failed outright).
    const plan = await writeRun(vault, 'run1', firstNight(420));
    for (let batch = 0; batch < plan.batchCount; batch++)
      await vault.deleteIfExists(layout.runBatchResult('run1', MAILBOX, batch));
    const batchesRead: number[] = [];
    const sliced: CommitOptions = { recordsInMemory: 50, sliceRecords: 450 };
    const { result } = await commitBySlices(vault, commitInput('run1', NIGHTS[0], plan), sliced, async () => {
      const progress = await vault.readJson<CommitProgress>(layout.runCommitProgress('run1', MAILBOX));
      if (progress?.sort) batchesRead.push(progress.sort.batchesRead);
    });
    expect(result.items).toMatchObject({ inSnapshot: 0, failed: 420 });
    // The change list (423 records) and 32 batches fill the first slice; 16 batches a read, each counting one.
    expect(batchesRead).toEqual([32]);
  });

  it('writes a manifest whose hash and index hold across the slices it was written in', async () => {
    const { vault, second } = await twoNights(SLICED);
    const opened = (await vault.openBlob(second.record.manifestBlob))!;
    const hash = createHash('sha256');
    for await (const bytes of opened.stream) hash.update(bytes as Buffer);
    expect(hash.digest('hex')).toBe(second.record.manifestSha256);
    const reader = await ManifestReader.open(vault, second.record);
    const inbox = (await itemsOf(vault, second.record)).filter((item) => item.folderId === 'inbox');
    expect(await reader.folderPage('inbox', 7, 30)).toEqual(inbox.slice(7, 37));
    expect(await reader.findItem('item-500')).toEqual(inbox.find((item) => item.id === 'item-500'));
  });

  it('starts its merge over, looking every version up, when a sweep ran between two of its slices', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    // The run's claim, as claimMailbox takes it: no prune since.
    await withMailboxLease(vault, keyOf(MAILBOX), async (held) => {
      const owner = await held.read();
      await held.write({ ...owner, holder: { runId: 'run1', claimedAt: NIGHTS[0], prunesAtClaim: owner.prunes } });
    });
    const input = commitInput('run1', NIGHTS[0], plan);
    const swept = layout.itemVersion(MAILBOX, 'item-000', 'ck1');
    const { result, record } = await commitBySlices(vault, input, SLICED, async (slice) => {
      const progress = await vault.readJson<{ merge: { after?: string } }>(layout.runCommitProgress('run1', MAILBOX));
      // Once the merge has gone past the inbox's first item, a sweep takes its version and counts a prune.
      if (slice < 2 || !progress?.merge.after || progress.merge.after < 'inbox\u0000item-001') return;
      if (!(await vault.getItemVersion(swept))) return;
      await vault.deleteBlob(swept);
      await withMailboxLease(vault, keyOf(MAILBOX), async (held) => {
        const owner = await held.read();
        await held.write({ ...owner, prunes: owner.prunes + 1 });
      });
    });
    expect(result.failures).toEqual([expect.objectContaining({ itemId: 'item-000', code: 'VersionPruned' })]);
    const items = await itemsOf(vault, record);
    expect(items.map((item) => item.id)).not.toContain('item-000');
    expect(items).toHaveLength(119);
  });

  it('keeps the change list’s facts and the tally across its checkpoints: a resync, folder counts, failures per folder', async () => {
    const nextDelta = (vault: VaultStore, runId: string, night: string) => {
      const links = Object.fromEntries(folders.map((f) => [f.id, `${f.id}-${night}`]));
      return vault.writeJson(layout.runNextDelta(runId, MAILBOX), { itemDeltaLinks: links } satisfies NextDeltaState);
    };
    const nights = async (options: CommitOptions) => {
      const { vault } = await freshVault();
      const plan1 = await writeRun(vault, 'run1', firstNight());
      await nextDelta(vault, 'run1', '1');
      await commitBySlices(vault, commitInput('run1', NIGHTS[0], plan1), options);
      const records: ChangeRecord[] = [
        ...secondNight().records, // item-001 of archive fails (kept stale)
        { kind: 'upsert', item: meta('inbox', 600) }, // new, fails: missing from the inbox
        { kind: 'resync', folderId: 'notes' }, // its listing gave nothing: its items go
        { kind: 'folderCount', folderId: 'inbox', exchangeCount: 41, missedByDelta: 0, arrivedDuringRun: 0 },
        { kind: 'folderCount', folderId: 'notes', exchangeCount: 0, missedByDelta: 0, arrivedDuringRun: 0 },
      ];
      const plan2 = await writeRun(vault, 'run2', records, new Set(['item-001', 'item-600']));
      await nextDelta(vault, 'run2', '2');
      const second = await commitBySlices(vault, commitInput('run2', NIGHTS[1], plan2), options);
      return { ...second, delta: await vault.readJson<DeltaState>(layout.deltaState(MAILBOX)) };
    };
    const whole = await nights(ONE_SLICE);
    const sliced = await nights(SLICED);
    expect(sliced.slices).toBeGreaterThanOrEqual(4);
    expect(sliced.result).toEqual(whole.result);
    expect(sliced.delta).toEqual(whole.delta);
    expect(sliced.result.items).toMatchObject({ inSnapshot: 80, failed: 2 });
    expect(sliced.result.coverage).toEqual({
      foldersCompared: 2,
      folders: [expect.objectContaining({ folderPath: 'inbox', exchangeCount: 41, inSnapshot: 40, failed: 1 })],
    });
    // The archive's and the inbox's exports failed: they keep their links; the notes move on.
    expect(sliced.delta?.itemDeltaLinks).toEqual({ archive: 'archive-1', inbox: 'inbox-1', notes: 'notes-2' });
  });

  it('answers a slice retried after its checkpoint, or a later one, landed with the slice after it, moving nothing; refuses one with no checkpoint before it', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const input = commitInput('run1', NIGHTS[0], plan);
    const slice = (n: number) =>
      commitSnapshotSlice(vault, { ...input, slice: n }, () => new Date(input.takenAt), SLICED);
    const checkpoint = () => vault.readJson<CommitProgress>(layout.runCommitProgress('run1', MAILBOX));
    await expect(slice(1)).rejects.toThrow('Commit slice 1 of run run1 has no checkpoint of slice 0 to continue from');
    // Five slices read the inputs (see above); the sixth and seventh merge.
    for (let n = 0; n < 7; n++) expect(await slice(n)).toEqual({ nextSlice: n + 1 });
    const at6 = (await checkpoint())!;
    expect(at6).toMatchObject({ slice: 6, merge: { after: expect.any(String) } });
    expect(at6.sort).toBeUndefined();
    expect(await slice(6)).toEqual({ nextSlice: 7 });
    expect(await slice(4)).toEqual({ nextSlice: 7 });
    expect(await slice(0)).toEqual({ nextSlice: 7 });
    expect(await checkpoint()).toEqual(at6);
    await expect(slice(9)).rejects.toThrow('Commit slice 9 of run run1 has no checkpoint of slice 8 to continue from');
    expect(await checkpoint()).toEqual(at6);
    let step = await slice(7);
    while (!('result' in step)) step = await slice(step.nextSlice);
    expect(step.result.items).toMatchObject({ inSnapshot: 120, exported: 120, failed: 0 });
  });

  it('holds the run’s claim until its last slice gives it up; the commit in one call goes over every slice', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const input = commitInput('run1', NIGHTS[0], plan);
    const holder = () => withMailboxLease(vault, keyOf(MAILBOX), async (held) => (await held.read()).holder?.runId);
    expect(await claimMailbox(vault, keyOf(MAILBOX), 'run1', new Date(NIGHTS[0]))).toEqual({ granted: true });
    const before = Date.now();
    // Without a clock of its own, the slice's is the real one.
    let step = await commitSnapshotSlice(vault, { ...input, slice: 0 }, undefined, SLICED);
    for (let slices = 1; !('result' in step); slices++) {
      expect(await holder()).toBe('run1');
      step = await commitSnapshotSlice(vault, { ...input, slice: step.nextSlice }, undefined, SLICED);
      expect(slices).toBeLessThan(20);
    }
    expect(await holder()).toBeUndefined();
    const record = (await vault.readJson<SnapshotRecord>(layout.snapshotRecord(MAILBOX, input.snapshotId)))!;
    expect(Date.parse(record.committedAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(step.result.finishedAt)).toBeLessThanOrEqual(Date.now());

    const { vault: other } = await freshVault();
    const plan2 = await writeRun(other, 'run1', firstNight());
    const result = await commitSnapshot(
      other,
      commitInput('run1', NIGHTS[0], plan2),
      () => new Date(NIGHTS[0]),
      SLICED,
    );
    expect(result.items).toEqual(step.result.items);
    expect(result.items.inSnapshot).toBe(120);
  });

  it('writes no checkpoint and reads its sorted runs once when the commit fits its slice; a record more checkpoints', async () => {
    const commitWith = async (sliceRecords: number) => {
      const { vault } = await freshVault();
      const plan = await writeRun(vault, 'run1', firstNight());
      const json = vi.spyOn(vault, 'writeJson');
      const ndjson = vi.spyOn(vault, 'writeNdjsonGz');
      const options = { recordsInMemory: 4, sliceRecords };
      const { slices, result } = await commitBySlices(vault, commitInput('run1', NIGHTS[0], plan), options);
      const progress = layout.runCommitProgress('run1', MAILBOX);
      return {
        slices,
        inSnapshot: result.items.inSnapshot,
        checkpoints: json.mock.calls.filter(([name]) => name === progress).length,
        runsReadAgain: ndjson.mock.calls.filter(([name]) => name.endsWith('all.ndjson.gz')).length,
      };
    };
    // 120 change records and 120 outcomes sorted, then 120 keys merged: 480.
    expect(await commitWith(480)).toEqual({ slices: 1, inSnapshot: 120, checkpoints: 0, runsReadAgain: 0 });
    // One less: the sorted runs are named in a checkpoint, as they were written, and the merge goes on in the slice.
    expect(await commitWith(479)).toEqual({ slices: 1, inSnapshot: 120, checkpoints: 1, runsReadAgain: 0 });
    // Its last key spends the budget exactly: the slice stops there, and the next finds nothing left to merge.
    expect(await commitWith(360)).toEqual({ slices: 2, inSnapshot: 120, checkpoints: 2, runsReadAgain: 0 });
    // Its reading spends the budget exactly (123 change records, then 18 batches: 240 sorted): the merge is the
    // next slice's, whole; the first merges no key past its budget and writes no second checkpoint.
    expect(await commitWith(240)).toEqual({ slices: 2, inSnapshot: 120, checkpoints: 1, runsReadAgain: 0 });
  });

  it('leaves none of its sorted runs when a slice fails before its checkpoint; retried, it goes on', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const input = commitInput('run1', NIGHTS[0], plan);
    const progress = layout.runCommitProgress('run1', MAILBOX);
    const writeJson = vault.writeJson.bind(vault);
    const failing = vi.spyOn(vault, 'writeJson').mockImplementation(async (name, value, options) => {
      if (name === progress) throw new Error('vault unavailable');
      return writeJson(name, value, options);
    });
    const slice0 = { ...input, slice: 0 };
    await expect(commitSnapshotSlice(vault, slice0, () => new Date(input.takenAt), SLICED)).rejects.toThrow(
      'vault unavailable',
    );
    expect(await scratchOf(vault, 'run1')).toEqual([]);
    failing.mockRestore();
    const { result } = await commitBySlices(vault, input, SLICED);
    expect(result.items.inSnapshot).toBe(120);
  });

  it('leaves only the runs of the slices before it when a slice reading the batch results fails before its checkpoint', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const input = commitInput('run1', NIGHTS[0], plan);
    const slice = (n: number) =>
      commitSnapshotSlice(vault, { ...input, slice: n }, () => new Date(input.takenAt), SLICED);
    // Four slices read 100 change records (see above); the fifth the last 23 and 16 batches' outcomes.
    for (let n = 0; n < 4; n++) await slice(n);
    const before = await scratchOf(vault, 'run1');
    const writes = vi.spyOn(vault, 'writeNdjsonGz');
    const writeJson = vault.writeJson.bind(vault);
    const failing = vi.spyOn(vault, 'writeJson').mockImplementation(async (name, value, options) => {
      if (name === layout.runCommitProgress('run1', MAILBOX)) throw new Error('vault unavailable');
      return writeJson(name, value, options);
    });
    await expect(slice(4)).rejects.toThrow('vault unavailable');
    // It had merged each input's runs into one of its own, the outcomes' too: none is left.
    const mergedRuns = writes.mock.calls.filter(
      ([name]) => name.includes('-s000004/') && name.endsWith('all.ndjson.gz'),
    );
    expect(mergedRuns).toHaveLength(2);
    expect(await scratchOf(vault, 'run1')).toEqual(before);
    failing.mockRestore();
    let step = await slice(4);
    while (!('result' in step)) step = await slice(step.nextSlice);
    expect(step.result.items.inSnapshot).toBe(120);
  });

  it('fails with the reading’s own error and leaves no sorted run when reading the batch results fails', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const readJson = vault.readJson.bind(vault);
    // The change list is sorted into runs of 4 in the vault before the first batch result is read.
    vi.spyOn(vault, 'readJson').mockImplementation(async (name) => {
      if (name === layout.runBatchResult('run1', MAILBOX, 0)) throw new Error('vault unavailable');
      return readJson(name);
    });
    await expect(commitBySlices(vault, commitInput('run1', NIGHTS[0], plan), ONE_SLICE)).rejects.toThrow(
      'vault unavailable',
    );
    expect(await scratchOf(vault, 'run1')).toEqual([]);
  });

  it('merges an input’s runs past 64 under the slice’s own names, and leaves none, when its reading takes more slices', async () => {
    const { vault } = await freshVault();
    // 133 change records at 2 a slice: 66 slices each add a run of the change records they read.
    const plan = await writeRun(vault, 'run1', firstNight(130));
    const writes = vi.spyOn(vault, 'writeNdjsonGz');
    const options = { recordsInMemory: 1, sliceRecords: 2 };
    const { result } = await commitBySlices(vault, commitInput('run1', NIGHTS[0], plan), options);
    expect(result.items.inSnapshot).toBe(130);
    const written = writes.mock.calls.map(([name]) => name);
    expect(written.filter((name) => name.includes('/changes-s') && name.includes('/merged-')).length).toBeGreaterThan(
      0,
    );
    const sortFolder = layout.runCommitSortPrefix('run1', MAILBOX);
    expect(written.filter((name) => !name.startsWith(sortFolder))).toEqual([]);
    expect(await scratchOf(vault, 'run1')).toEqual([]);
  });

  it('builds on the previous snapshot when the next night’s reading takes more than one slice', async () => {
    const night = async (options: CommitOptions) => {
      const { vault } = await freshVault();
      const plan1 = await writeRun(vault, 'run1', firstNight());
      await commitBySlices(vault, commitInput('run1', NIGHTS[0], plan1), ONE_SLICE);
      const night2 = secondNight();
      const plan2 = await writeRun(vault, 'run2', night2.records, night2.failing);
      const checkpoints: CommitProgress[] = [];
      const second = await commitBySlices(vault, commitInput('run2', NIGHTS[1], plan2), options, async () => {
        checkpoints.push((await vault.readJson<CommitProgress>(layout.runCommitProgress('run2', MAILBOX)))!);
      });
      return { ...second, items: await itemsOf(vault, second.record), checkpoints };
    };
    const whole = await night(ONE_SLICE);
    // 8 change records at 5 a slice: the reading goes on in the next slice, from the checkpoint.
    const sliced = await night({ recordsInMemory: 4, sliceRecords: 5 });
    expect(sliced.checkpoints[0]!.sort).toMatchObject({ changeRecords: 5, changesRead: false });
    expect(sliced.result).toEqual(whole.result);
    expect(sliced.items).toEqual(whole.items);
    expect(sliced.record.previousSnapshotId).toBe(whole.record.previousSnapshotId);
    expect(sliced.result.items).toMatchObject({ inSnapshot: 120, failed: 1, removed: 1 });
  });

  it('retried after its record but before its result, in slices, tallies again and leaves the manifest as it was', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const input = commitInput('run1', NIGHTS[0], plan);
    const first = await commitBySlices(vault, input, SLICED);
    await vault.deleteIfExists(layout.runMailboxResult('run1', MAILBOX));
    const again = await commitBySlices(vault, input, SLICED);
    expect(again.slices).toBeGreaterThanOrEqual(6);
    expect(again.result).toEqual(first.result);
    expect(again.record).toEqual(first.record);
    expect(await itemsOf(vault, again.record)).toHaveLength(120);
  });

  it('reads the change list once over its slices, and names a slice’s single run as it was written', async () => {
    const { vault } = await freshVault();
    const plan = await writeRun(vault, 'run1', firstNight());
    const reads = vi.spyOn(vault, 'readNdjsonGz');
    const writes = vi.spyOn(vault, 'writeNdjsonGz');
    // Every slice's reading fits in memory: one run per input a slice.
    const options = { recordsInMemory: 1000, sliceRecords: 25 };
    const { result, slices } = await commitBySlices(vault, commitInput('run1', NIGHTS[0], plan), options);
    expect(result.items.inSnapshot).toBe(120);
    expect(slices).toBeGreaterThanOrEqual(6);
    // 123 change records at 25 a slice: five reads, each from where the last stopped; none once it is read.
    const changeList = layout.runChanges('run1', MAILBOX);
    expect(reads.mock.calls.filter(([name]) => name === changeList)).toHaveLength(5);
    expect(writes.mock.calls.filter(([name]) => name.endsWith('all.ndjson.gz'))).toEqual([]);
  });

  it('reads a change list of removals alone over its slices, though no batch was planned', async () => {
    const night = async (options: CommitOptions) => {
      const { vault } = await freshVault();
      const plan1 = await writeRun(vault, 'run1', firstNight());
      await commitBySlices(vault, commitInput('run1', NIGHTS[0], plan1), ONE_SLICE);
      // 30 removals: nothing to export, no batch; 33 change records at 25 a slice.
      const removals: ChangeRecord[] = firstNight()
        .slice(0, 30)
        .map((r) => (r.kind === 'upsert' ? { kind: 'remove', id: r.item.id, folderId: r.item.folderId } : r));
      const plan2 = await writeRun(vault, 'run2', removals);
      return commitBySlices(vault, commitInput('run2', NIGHTS[1], plan2), options);
    };
    const whole = await night(ONE_SLICE);
    const sliced = await night(SLICED);
    expect(whole.result.items).toMatchObject({ inSnapshot: 90, removed: 30 });
    expect(sliced.result).toEqual(whole.result);
  });
});
