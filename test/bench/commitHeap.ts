/**
 * Heap per item of one mailbox's commit and of a browse page, measured the way issue #16's table was: synthetic
 * 152-character ids, the heap sampled while the work runs, above the heap after a forced GC before it.
 *
 *   npm run bench:heap -- [items] [root of the checkout to measure (its dist/ is loaded), default this one]
 *
 * With another checkout's dist (e.g. main built into /tmp/main-build), the same run measures that code: the
 * "before" figures of docs/performance.md. With LIVE_HEAP=1 the peak is what is held (see heapMeasure.ts). Needs
 * `node --expose-gc`; starts an Azurite of its own.
 */
import { resolve } from 'node:path';
import { stopAzurite } from './harness.js';
import { heapBenchVault, heapOf, LIVE_HEAP } from './heapMeasure.js';
import { writeIndexedNdjson } from '../../shared/vault/indexedNdjson.js';
import { keyOf, layout, snapshotIdFor } from '../../shared/vault/layout.js';
import { claimMailbox } from '../../shared/vault/mailboxOwner.js';
import type { SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import type {
  commitSnapshot as CommitSnapshot,
  commitSnapshotSlice as CommitSnapshotSlice,
} from '../../shared/backup/commit.js';
import type { MailboxRunResult } from '../../shared/backup/types.js';
import type { BatchResult, ChangeRecord, PlannedBatch } from '../../shared/backup/types.js';
import type { browseFolder as BrowseFolder } from '../../shared/vault/snapshotBrowser.js';

const ITEMS = Number(process.argv[2] ?? 100_000);
// Compiled to dist/test/bench: the checkout's root is three levels up.
const CODE_ROOT = resolve(process.argv[3] ?? resolve(import.meta.dirname, '..', '..', '..'));
const FOLDERS = 20;
const PER_BATCH = 20;
const MAILBOX = 'heap-bench-mailbox';
const RUN = 'heap-bench-run';
const TAKEN_AT = '2026-11-01T02:00:00.000Z';

const idOf = (n: number) => `AAMk${String(n).padStart(12, '0')}${'x'.repeat(136)}`; // 152 characters
const folderOf = (n: number) => `folder-${n % FOLDERS}`;

async function writeRun(vault: VaultStore): Promise<{ planVersion: string; batchCount: number }> {
  const folders: ChangeRecord[] = Array.from({ length: FOLDERS }, (_, f) => ({
    kind: 'folder',
    id: `folder-${f}`,
    parentId: null,
    displayName: `Folder ${f}`,
    path: [`Folder ${f}`],
    type: 'IPF.Note',
    wellKnownName: null,
  }));
  async function* changes(): AsyncGenerator<ChangeRecord> {
    yield* folders;
    for (let n = 0; n < ITEMS; n++)
      yield {
        kind: 'upsert',
        item: {
          id: idOf(n),
          folderId: folderOf(n),
          changeKey: 'CQAAABYAAAD',
          type: 'message',
          size: 2048,
          // What a listing gives each item: the manifest record a real mailbox's commit sorts.
          subject: `Quarterly report ${n} draft`,
          sender: `user${n % 100}@contoso.com`,
          receivedDateTime: '2026-11-01T02:00:00Z',
          searchKey: Buffer.from(String(n).padStart(16, '0')).toString('base64'),
        },
      };
  }
  await vault.writeNdjsonGz(layout.runChanges(RUN, MAILBOX), changes());
  const planVersion = 'heap-bench-plan';
  const batchCount = Math.ceil(ITEMS / PER_BATCH);
  const batches: PlannedBatch[] = [];
  for (let b = 0; b < batchCount; b++) {
    const items = [];
    for (let n = b * PER_BATCH; n < Math.min(ITEMS, (b + 1) * PER_BATCH); n++)
      items.push({ id: idOf(n), folderId: folderOf(n), changeKey: 'CQAAABYAAAD', size: 2048 });
    batches.push({ batch: b, items });
  }
  await writeIndexedNdjson(
    vault,
    { data: layout.runPlan(RUN, MAILBOX), index: layout.runPlanIndex(RUN, MAILBOX), description: 'plan' },
    batches,
    planVersion,
  );
  for (let b = 0; b < batchCount; b += 32)
    await Promise.all(
      batches.slice(b, b + 32).map((planned) => {
        const result: BatchResult = {
          batch: planned.batch,
          planVersion,
          throttledResponses: 0,
          throttleWaitInMs: 0,
          results: planned.items.map((item) => ({
            id: item.id,
            ok: true,
            blob: layout.itemVersion(MAILBOX, item.id, item.changeKey),
            sha256: '0'.repeat(64),
            length: 2100,
            written: true,
          })),
        };
        return vault.writeJson(layout.runBatchResult(RUN, MAILBOX, planned.batch), result);
      }),
    );
  return { planVersion, batchCount };
}

async function main(): Promise<void> {
  const vault = await heapBenchVault();
  const plan = await writeRun(vault);
  await claimMailbox(vault, keyOf(MAILBOX), RUN, new Date());
  // The code measured may be another checkout's build (main's, for the "before" figures): loaded by path.
  const commitCode = (await import(`${CODE_ROOT}/dist/shared/backup/commit.js`)) as {
    commitSnapshot: typeof CommitSnapshot;
    commitSnapshotSlice?: typeof CommitSnapshotSlice;
  };
  const { browseFolder } = (await import(`${CODE_ROOT}/dist/shared/vault/snapshotBrowser.js`)) as {
    browseFolder: typeof BrowseFolder;
  };
  const snapshotId = snapshotIdFor(TAKEN_AT, RUN);
  const input = {
    runId: RUN,
    mailboxId: MAILBOX,
    upn: 'heap@contoso.example',
    snapshotId,
    takenAt: TAKEN_AT,
    startedAt: TAKEN_AT,
    ...plan,
  };
  const started = Date.now();
  const sliceMs: number[] = [];
  // Slice by slice where the code has slices (each timed: the longest is what an activity takes).
  const commitInSlices = async (): Promise<MailboxRunResult> => {
    const { commitSnapshotSlice } = commitCode;
    if (!commitSnapshotSlice) return commitCode.commitSnapshot(vault, input);
    for (let slice = 0; ;) {
      const sliceStarted = Date.now();
      const step = await commitSnapshotSlice(vault, { ...input, slice });
      sliceMs.push(Date.now() - sliceStarted);
      if ('result' in step) return step.result;
      slice = step.nextSlice;
    }
  };
  const commit = await heapOf(commitInSlices);
  const commitMs = Date.now() - started;
  const record = (await vault.readJson<SnapshotRecord>(layout.snapshotRecord(MAILBOX, snapshotId)))!;
  const browseStarted = Date.now();
  const browse = await heapOf(() => browseFolder(vault, record, ['Folder 3'], { skip: 1000, top: 100 }));
  const browseMs = Date.now() - browseStarted;
  console.log(
    JSON.stringify({
      code: CODE_ROOT,
      items: ITEMS,
      liveHeap: LIVE_HEAP,
      inSnapshot: commit.result.items.inSnapshot,
      commitHeapPerItemBytes: Math.round(commit.peakBytes / ITEMS),
      commitPeakHeapMiB: +(commit.peakBytes / 2 ** 20).toFixed(1),
      commitMs,
      commitSlices: sliceMs.length || 1,
      longestCommitSliceMs: sliceMs.length ? Math.max(...sliceMs) : commitMs,
      commitSliceSeconds: sliceMs.map((ms) => +(ms / 1000).toFixed(1)),
      browseHeapPerItemBytes: Math.round(browse.peakBytes / ITEMS),
      browsePeakHeapMiB: +(browse.peakBytes / 2 ** 20).toFixed(1),
      browseMs,
      browsedItems: browse.result?.items.length,
    }),
  );
  await stopAzurite();
}

await main();
