import { afterEach, describe, expect, it } from 'vitest';
import { commitSnapshotSlice, type CommitOptions } from '../../shared/backup/commit.js';
import type { MailboxRunResult } from '../../shared/backup/types.js';
import { layout } from '../../shared/vault/layout.js';
import type { ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import { commitInput, firstNight, itemsOf, MAILBOX, secondNight, writeRun } from '../support/commitRun.js';
import { InjectedCrash, pointsToCrash } from '../support/crashPoints.js';
import { freshVault } from '../support/vault.js';

/**
 * Two nights of one mailbox committed in slices (a first backup of 40 items, then a night with a new item, a
 * removal, a change and a failed export), with "the process" stopped at one vault write: before it is sent or
 * after it landed. The slice that was running is then retried, as Durable retries an activity, and the commits
 * go on. Whatever the point, both snapshots must be the ones an uninterrupted run commits, item for item, and
 * their results the same. `npm test` runs 16 points spread over both commits; `CRASH_SWEEP=all` every one.
 */

const NIGHTS = ['2026-11-01T02:00:00.000Z', '2026-11-02T02:00:00.000Z'] as const;
const OPTIONS: CommitOptions = { recordsInMemory: 4, sliceRecords: 12 };

interface Outcome {
  writes: number;
  crashedAt?: string;
  nights: Array<{ result: MailboxRunResult; items: ManifestItem[] }>;
}

afterEach(() => setVaultWriteHook(undefined));

/** Both nights' runs written, then committed in slices; the process dies at write point `crashAt`, if given. */
async function crashedCommits(crashAt?: number): Promise<Outcome> {
  const { vault } = await freshVault('crash');
  const plan1 = await writeRun(vault, 'run1', firstNight(40));
  const night2 = secondNight();
  const plan2 = await writeRun(vault, 'run2', night2.records, night2.failing);
  let point = 0;
  let dead = false;
  const outcome: Outcome = { writes: 0, nights: [] };
  setVaultWriteHook((write, phase) => {
    // A dead process sends nothing more; its writes in flight fail with it.
    if (dead) throw new InjectedCrash(`[injected crash] ${write.blobName} not written`);
    if (point++ !== crashAt) return;
    dead = true;
    outcome.crashedAt = `${write.op} ${phase} ${write.blobName}`;
    throw new InjectedCrash(`[injected crash] at ${outcome.crashedAt}`);
  });
  for (const [runId, plan, takenAt] of [
    ['run1', plan1, NIGHTS[0]],
    ['run2', plan2, NIGHTS[1]],
  ] as const) {
    const input = commitInput(runId, takenAt, plan);
    const result = await commitWithRetries(vault, input, () => (dead = false));
    const record = (await vault.readJson<SnapshotRecord>(layout.snapshotRecord(MAILBOX, input.snapshotId)))!;
    outcome.nights.push({ result, items: await itemsOf(vault, record) });
  }
  setVaultWriteHook(undefined);
  outcome.writes = point;
  return outcome;
}

/** Slice after slice; a slice that died is run again from the checkpoint before it (a new process). */
async function commitWithRetries(
  vault: VaultStore,
  input: ReturnType<typeof commitInput>,
  revive: () => void,
): Promise<MailboxRunResult> {
  for (let slice = 0; ;) {
    try {
      const step = await commitSnapshotSlice(vault, { ...input, slice }, () => new Date(input.takenAt), OPTIONS);
      if ('result' in step) return step.result;
      slice = step.nextSlice;
    } catch (error) {
      if (!(error instanceof InjectedCrash)) throw error;
      revive();
    }
  }
}

describe('a commit in slices, stopped at any vault write', () => {
  it('resumes from its last checkpoint and commits the snapshots an uninterrupted run commits', async () => {
    const clean = await crashedCommits();
    expect(clean.nights[0]!.items).toHaveLength(40);
    const chosen = pointsToCrash(clean.writes, 16);
    console.warn(`commit crash points: ${clean.writes}, running ${chosen.length}`);
    const failures: string[] = [];
    for (const index of chosen) {
      const crashed = await crashedCommits(index);
      if (!crashed.crashedAt) failures.push(`#${index}: never reached`);
      crashed.nights.forEach((night, n) => {
        const expected = clean.nights[n]!;
        if (JSON.stringify(night.items) !== JSON.stringify(expected.items))
          failures.push(`#${index} (${crashed.crashedAt}): night ${n + 1}'s snapshot differs`);
        if (JSON.stringify(night.result) !== JSON.stringify(expected.result))
          failures.push(`#${index} (${crashed.crashedAt}): night ${n + 1}'s result differs`);
      });
    }
    expect(failures).toEqual([]);
  }, 3_600_000);
});
