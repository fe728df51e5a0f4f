import { statusFrom } from '../status.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { RestoreJournal } from './journal.js';
import { readImportBatchesInOrder } from './plan.js';
import type { ImportBatchResult, PlannedImport, RestorePlanSummary, RestoreReport, RestoreRequest } from './types.js';

type BuildInput = { restoreId: string; plan?: RestorePlanSummary; canceled?: boolean; error?: string };

/**
 * The restore's report from its plan and every batch's outcomes. An item with no outcome (its batch failed
 * outright, or the restore was canceled first) is named as failed, never left out.
 */
export async function buildRestoreReport(
  vault: VaultStore,
  input: BuildInput,
  now: () => Date = () => new Date(),
): Promise<RestoreReport> {
  const request = await vault.readJson<RestoreRequest>(layout.restoreRequest(input.restoreId));
  if (!request) throw new Error(`No restore '${input.restoreId}'`);
  const tally = await tallyBatches(vault, input);
  const finishedAt = now();
  return {
    restoreId: input.restoreId,
    status: restoreStatus(input, tally.failures.length),
    requestedAt: request.requestedAt,
    finishedAt: finishedAt.toISOString(),
    durationInMs: finishedAt.getTime() - Date.parse(request.requestedAt),
    source: request.source,
    target: request.target,
    destination: { mode: request.destination.mode, root: input.plan?.destinationRoot ?? '' },
    collisions: request.collisions,
    counts: {
      selected: input.plan?.selected ?? 0,
      imported: tally.imported,
      skippedAlreadyPresent: input.plan?.skippedPresent ?? 0,
      failed: tally.failures.length,
    },
    bytesImported: tally.bytesImported,
    throttling: { responses: tally.throttledResponses, waitInMs: tally.throttleWaitInMs },
    failures: tally.failures,
    warnings: tally.warnings(),
    ...(input.error ? { error: input.error } : {}),
  };
}

/**
 * Goes through the plan's batches in order, each with its recorded result (none: the batch is unfinished). The plan
 * is read in one pass and a batch's result when its turn comes, so time grows with the restore and memory does not
 * (but for the failures the report names).
 */
async function tallyBatches(vault: VaultStore, input: BuildInput): Promise<RestoreTally> {
  const tally = new RestoreTally();
  const journal = new RestoreJournal(vault, input.restoreId);
  for await (const planned of readImportBatchesInOrder(vault, input.restoreId, input.plan?.batchCount ?? 0)) {
    const result = await vault.readJson<ImportBatchResult>(layout.restoreResult(input.restoreId, planned.batch));
    tally.countSearchKeys(planned.items);
    if (result) tally.addBatch(result, planned.items);
    else await tally.addUnfinishedBatch(planned.items, input.canceled === true, journal);
  }
  return tally;
}

/** An admin's cancel wins, then the orchestration's error; otherwise any failed item makes it CompletedWithErrors. */
function restoreStatus(input: BuildInput, failures: number): RestoreReport['status'] {
  if (input.canceled) return 'Canceled';
  if (input.error) return 'Failed';
  return statusFrom(failures);
}

/** What the batches add up to, batch by batch. */
class RestoreTally {
  readonly failures: RestoreReport['failures'] = [];
  private readonly itemWarnings: RestoreReport['warnings'] = [];
  private withoutSearchKey = 0;
  imported = 0;
  bytesImported = 0;
  throttledResponses = 0;
  throttleWaitInMs = 0;

  addBatch(result: ImportBatchResult, planned: PlannedImport[]): void {
    const byId = new Map(planned.map((i) => [i.sourceId, i]));
    this.bytesImported += result.bytesImported;
    this.throttledResponses += result.throttledResponses;
    this.throttleWaitInMs += result.throttleWaitInMs;
    for (const outcome of result.outcomes) {
      if (outcome.status !== 'failed') {
        this.imported++;
        if (outcome.status === 'imported' && outcome.warning)
          this.itemWarnings.push({ sourceItemId: outcome.sourceId, ...outcome.warning });
        continue;
      }
      const item = byId.get(outcome.sourceId);
      this.failures.push({
        sourceItemId: outcome.sourceId,
        folderPath: item?.folderPath ?? '',
        ...(item?.subject !== undefined ? { subject: item.subject } : {}),
        code: outcome.code,
        message: outcome.message,
      });
    }
  }

  /**
   * A batch with no recorded result (it failed outright, or was stopped): its items with a journal entry were
   * imported; each of the others is named as not imported.
   */
  async addUnfinishedBatch(planned: PlannedImport[], canceled: boolean, journal: RestoreJournal): Promise<void> {
    const message = canceled
      ? 'The restore was canceled before this item was imported'
      : 'Its import batch did not run to the end';
    for (const item of planned) {
      if (await journal.outcome(item.sourceId)) {
        this.imported++;
        continue;
      }
      this.failures.push({
        sourceItemId: item.sourceId,
        folderPath: item.folderPath,
        ...(item.subject !== undefined ? { subject: item.subject } : {}),
        code: canceled ? 'Canceled' : 'NotImported',
        message,
      });
    }
  }

  countSearchKeys(planned: PlannedImport[]): void {
    this.withoutSearchKey += planned.filter((i) => !i.searchKey).length;
  }

  /** Item warnings, and the items whose import could not be checked in the target after a crash. */
  warnings(): RestoreReport['warnings'] {
    if (this.withoutSearchKey === 0) return this.itemWarnings;
    const message =
      `${this.withoutSearchKey} item(s) have no search key: the target cannot be checked for them, so a crash ` +
      'between their import and its journal entry could leave a second copy';
    return [{ code: 'NoSearchKey', message }, ...this.itemWarnings];
  }
}

export async function finishRestore(
  vault: VaultStore,
  input: { restoreId: string; plan?: RestorePlanSummary; error?: string },
): Promise<RestoreReport> {
  const report = await buildRestoreReport(vault, input);
  await vault.writeJson(layout.restoreReport(input.restoreId), report);
  return report;
}

/**
 * A restore's report as it stands: the final one once written; for a canceled restore whose orchestration
 * stopped before writing it, one built from what its batches recorded. `canceled` says whether an admin stopped it.
 */
export async function currentRestoreReport(
  vault: VaultStore,
  restoreId: string,
): Promise<{ report: RestoreReport | undefined; canceled: boolean }> {
  const canceled = (await vault.readJson<{ at: string }>(layout.restoreCanceled(restoreId))) !== undefined;
  const report = await vault.readJson<RestoreReport>(layout.restoreReport(restoreId));
  if (report || !canceled) return { report, canceled };
  const plan = await vault.readJson<RestorePlanSummary>(layout.restorePlanSummary(restoreId));
  return {
    report: await buildRestoreReport(vault, { restoreId, canceled: true, ...(plan ? { plan } : {}) }),
    canceled,
  };
}
