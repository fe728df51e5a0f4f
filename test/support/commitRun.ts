import { commitSnapshot, type CommitOptions } from '../../shared/backup/commit.js';
import { planFile } from '../../shared/backup/plan.js';
import type { BatchResult, ChangeRecord, PlannedBatch } from '../../shared/backup/types.js';
import { writeIndexedNdjson } from '../../shared/vault/indexedNdjson.js';
import { layout, snapshotIdFor } from '../../shared/vault/layout.js';
import { ManifestReader } from '../../shared/vault/manifestReader.js';
import type { ManifestFolder, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';

/**
 * A backup run built by hand in the vault (change list, plan, batch results) for the commit's tests: they commit
 * it with small sort and slice budgets, so that every stream is many sorted runs, as a million-item mailbox's is.
 */

export const MAILBOX = 'mbx-merge';
export const folders: ManifestFolder[] = ['inbox', 'archive', 'notes'].map((id) => ({
  kind: 'folder',
  id,
  parentId: null,
  displayName: id,
  path: [id],
  type: 'IPF.Note',
  wellKnownName: null,
}));

export const meta = (folderId: string, n: number, changeKey = 'ck1') => ({
  id: `item-${String(n).padStart(3, '0')}`,
  folderId,
  changeKey,
  type: 'message',
  size: 100 + n,
  subject: `subject ${n}`,
});

/** Writes a run whose listed items go in the order given (not sorted), planned in batches of 7, all exported. */
export async function writeRun(
  vault: VaultStore,
  runId: string,
  records: ChangeRecord[],
  failing: Set<string> = new Set(),
): Promise<{ planVersion: string; batchCount: number }> {
  await vault.writeNdjsonGz(layout.runChanges(runId, MAILBOX), [...folders, ...records]);
  const toExport = records.flatMap((r) => (r.kind === 'upsert' && !r.known ? [r.item] : []));
  const batches: PlannedBatch[] = [];
  for (let at = 0; at < toExport.length; at += 7)
    batches.push({
      batch: batches.length,
      items: toExport.slice(at, at + 7).map(({ id, folderId, changeKey, size }) => ({ id, folderId, changeKey, size })),
    });
  const planVersion = `plan-${runId}`;
  await writeIndexedNdjson(vault, planFile(runId, MAILBOX), batches, planVersion);
  for (const planned of batches) {
    const results: BatchResult['results'] = [];
    for (const item of planned.items) {
      if (failing.has(item.id)) {
        results.push({ id: item.id, ok: false, code: 'ErrorItemCorrupt', message: 'corrupt' });
        continue;
      }
      // Stored for real: a commit without its claim looks each version up before it references it.
      const stored = await vault.writeItemVersion(
        layout.itemVersion(MAILBOX, item.id, item.changeKey),
        Buffer.from(`${item.id} ${item.changeKey}`),
      );
      const { sha256, length, written } = stored;
      results.push({ id: item.id, ok: true, blob: stored.blobName, sha256, length, written });
    }
    const result: BatchResult = {
      batch: planned.batch,
      planVersion,
      throttledResponses: 1,
      throttleWaitInMs: 10,
      results,
    };
    await vault.writeJson(layout.runBatchResult(runId, MAILBOX, planned.batch), result);
  }
  return { planVersion, batchCount: batches.length };
}

/** The commit's input for a run written by `writeRun`. */
export function commitInput(runId: string, takenAt: string, plan: { planVersion: string; batchCount: number }) {
  const snapshotId = snapshotIdFor(takenAt, runId);
  return { runId, mailboxId: MAILBOX, upn: 'm@contoso.example', snapshotId, takenAt, startedAt: takenAt, ...plan };
}

export async function commitRun(
  vault: VaultStore,
  runId: string,
  takenAt: string,
  plan: { planVersion: string; batchCount: number },
  options: CommitOptions,
) {
  const input = commitInput(runId, takenAt, plan);
  const { snapshotId } = input;
  const result = await commitSnapshot(vault, input, () => new Date(takenAt), options);
  const record = (await vault.readJson<SnapshotRecord>(layout.snapshotRecord(MAILBOX, snapshotId)))!;
  return { result, record };
}

export async function itemsOf(vault: VaultStore, record: SnapshotRecord): Promise<ManifestItem[]> {
  const items: ManifestItem[] = [];
  for await (const entry of (await ManifestReader.open(vault, record)).entries())
    if (entry.kind === 'item') items.push(entry);
  return items;
}

/** `count` items (120 unless told) over three folders, listed in a scrambled order. */
export function firstNight(count = 120): ChangeRecord[] {
  const records: ChangeRecord[] = [];
  for (let n = 0; n < count; n++)
    records.push({ kind: 'upsert', item: meta(folders[(n * 7) % 3]!.id, (n * 37) % count) });
  return records;
}

/** The next night: one new item, a removal, a change listed twice, and a change whose export fails (item-001). */
export function secondNight(): { records: ChangeRecord[]; failing: Set<string> } {
  const records: ChangeRecord[] = [
    { kind: 'upsert', item: meta('inbox', 500) }, // new
    { kind: 'remove', id: 'item-000', folderId: 'inbox' },
    { kind: 'upsert', item: meta('inbox', 3, 'ck2') }, // changed
    { kind: 'upsert', item: meta('inbox', 3, 'ck3') }, // listed twice: the last listing counts
    { kind: 'upsert', item: meta('archive', 1, 'ck2') }, // changed, its export fails: the old one stays stale
  ];
  return { records, failing: new Set(['item-001']) };
}
