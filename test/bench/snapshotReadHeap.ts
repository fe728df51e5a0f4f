/**
 * Heap per item of the two reads of a whole snapshot issue #16's table names: a restore plan of every item
 * (`planRestore`) and the nightly sampled verify (`verifyMailbox`, mode sample), measured as that table was:
 * synthetic 152-character ids in 20 folders, the heap sampled while the work runs, above the heap after a forced GC
 * before it.
 *
 *   node --expose-gc dist/test/bench/snapshotReadHeap.js [items] [root of the checkout to measure]
 *
 * `npm run bench:item-heap` runs it with the other heap benches. The target mailbox is a stand-in for Graph
 * (its folders created in memory: only planning's own memory is measured): empty, then holding as many items as
 * the snapshot (other search keys), which a restore with collisions `skip` compares the selection against. The sampled items' versions are
 * not written (each sampled item is reported missing, 50 problems): the work measured is reading the manifest.
 * With LIVE_HEAP=1 the peak is what is held (see heapMeasure.ts). Prints one JSON line. Needs `node --expose-gc`;
 * starts an Azurite of its own.
 */
import { resolve } from 'node:path';
import { stopAzurite } from './harness.js';
import { heapBenchVault, heapFigures, heapOf, LIVE_HEAP } from './heapMeasure.js';
import { writeSyntheticSnapshot } from './syntheticSnapshot.js';
import type { MailboxClient, MailboxFolder } from '../../shared/graph/index.js';
import { SEARCH_KEY_PROPERTY } from '../../shared/mailbox/index.js';
import { keyOf } from '../../shared/vault/layout.js';
import type { planRestore as PlanRestore } from '../../shared/restore/plan.js';
import type { RestoreRequest } from '../../shared/restore/types.js';
import type { verifyMailbox as VerifyMailbox } from '../../shared/maintenance/verify.js';

const ITEMS = Number(process.argv[2] ?? 100_000);
// Compiled to dist/test/bench: the checkout's root is three levels up.
const CODE_ROOT = resolve(process.argv[3] ?? resolve(import.meta.dirname, '..', '..', '..'));
const MAILBOX = 'heap-read-mailbox';
const TARGET = 'heap-read-target';
const TAKEN_AT = '2026-11-01T02:00:00.000Z';
/** MAILBOX_VAULT_VERIFY_SAMPLE's default. */
const VERIFY_SAMPLE = 50;

/** The parts of a MailboxClient a restore plan uses: an empty target whose folders are created in memory. */
/** A search key as long as Exchange's (16 bytes, base64), none equal to the synthetic snapshot's. */
const heldKey = (i: number) => Buffer.from(`held-${i}`.padEnd(16, '.')).toString('base64');

function emptyTarget(): MailboxClient {
  return targetHolding(0);
}

/**
 * A target whose Inbox holds `items` items, each with a search key of its own (none the snapshot's: nothing is
 * skipped, every item is compared), otherwise as `emptyTarget`: what a restore with collisions `skip` lists first.
 */
function targetHolding(items: number): MailboxClient {
  const folders: MailboxFolder[] = [];
  if (items > 0)
    folders.push({ id: 'target-inbox', displayName: 'Inbox', parentFolderId: 'root', childFolderCount: 0 });
  const client = {
    listFolders: async function* (_mailboxId: string, options: { parentFolderId?: string }) {
      yield* folders.filter((f) => f.parentFolderId === (options.parentFolderId ?? 'root'));
    },
    getWellKnownFolders: () => Promise.resolve(new Map()),
    createFolder: (_mailboxId: string, request: { displayName: string; parentFolderId?: string }) => {
      const folder = {
        id: `target-${folders.length}`,
        displayName: request.displayName,
        parentFolderId: request.parentFolderId ?? 'root',
        childFolderCount: 0,
      };
      folders.push(folder);
      return Promise.resolve(folder);
    },
    listItems: async function* (_mailboxId: string, folderId: string) {
      if (folderId !== 'target-inbox') return;
      for (let i = 0; i < items; i++)
        yield { id: `held-${i}`, singleValueExtendedProperties: [{ id: SEARCH_KEY_PROPERTY, value: heldKey(i) }] };
    },
  };
  return client as unknown as MailboxClient;
}

async function main(): Promise<void> {
  const vault = await heapBenchVault();
  const record = await writeSyntheticSnapshot(vault, {
    mailboxId: MAILBOX,
    runId: 'heap-read-run',
    takenAt: TAKEN_AT,
    items: ITEMS,
    changeKeyOf: () => 'CQAAABYAAAD',
  });
  // The code measured may be another checkout's build (the "before" figures): loaded by path.
  const { planRestore } = (await import(`${CODE_ROOT}/dist/shared/restore/plan.js`)) as {
    planRestore: typeof PlanRestore;
  };
  const { verifyMailbox } = (await import(`${CODE_ROOT}/dist/shared/maintenance/verify.js`)) as {
    verifyMailbox: typeof VerifyMailbox;
  };
  const request: RestoreRequest = {
    restoreId: 'heap-read-restore',
    requestedAt: TAKEN_AT,
    source: { mailboxId: MAILBOX, upn: null, snapshotId: record.snapshotId, takenAt: TAKEN_AT },
    target: { mailboxId: TARGET, upn: null },
    filters: {},
    destination: { mode: 'newFolder' },
    collisions: 'skip',
    requestedBy: 'heap-bench',
  };
  // functions/restoreActivities.ts's settings.
  const settings = { itemsPerBatch: 10, bytesPerBatch: 64 * 1024 * 1024 };
  const restore = await heapOf(() => planRestore(emptyTarget(), vault, settings, request));
  const intoFull = await heapOf(() =>
    planRestore(targetHolding(ITEMS), vault, settings, { ...request, restoreId: 'heap-bench-restore-into-full' }),
  );
  const verify = await heapOf(() =>
    verifyMailbox(vault, { mailboxKey: keyOf(MAILBOX), mode: 'sample', sample: VERIFY_SAMPLE, seed: MAILBOX }),
  );
  console.log(
    JSON.stringify({
      code: CODE_ROOT,
      items: ITEMS,
      liveHeap: LIVE_HEAP,
      restorePlan: { planned: restore.result.toImport, ...heapFigures(restore, ITEMS) },
      restorePlanIntoFull: { planned: intoFull.result.toImport, ...heapFigures(intoFull, ITEMS) },
      sampledVerify: { checked: verify.result.entriesChecked, ...heapFigures(verify, ITEMS) },
    }),
  );
  await stopAzurite();
}

await main();
