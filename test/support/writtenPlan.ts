import { readPlannedBatches } from '../../shared/backup/plan.js';
import type { ChangeRecord, PlanSummary } from '../../shared/backup/types.js';
import { IndexedNdjsonReader } from '../../shared/vault/indexedNdjson.js';
import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { collect } from './graph.js';

/** What a plan wrote, to compare two plannings of one mailbox: its counts, its batches' items and its change list. */
export async function writtenPlan(vault: VaultStore, runId: string, mailboxId: string, summary: PlanSummary) {
  const batches = await readPlannedBatches(
    new IndexedNdjsonReader(vault),
    runId,
    mailboxId,
    0,
    summary.batchCount,
    summary.planVersion,
  );
  const { planVersion, ...counts } = summary;
  void planVersion;
  return {
    counts,
    batches: batches.map((batch) => batch.items),
    changes: await collect(vault.readNdjsonGz<ChangeRecord>(layout.runChanges(runId, mailboxId))),
  };
}
