import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { readImportBatch } from './plan.js';
import type { ImportBatchResult, RestorePlanSummary, RestoreReport, RestoreRequest } from './types.js';

/**
 * The restore's report from its plan and every batch's outcomes. An item with no outcome (its batch failed
 * outright, or the restore was canceled first) is named as failed, never left out.
 */
export async function buildRestoreReport(
  vault: VaultStore,
  input: { restoreId: string; plan?: RestorePlanSummary; canceled?: boolean; error?: string },
  now: () => Date = () => new Date(),
): Promise<RestoreReport> {
  const request = await vault.readJson<RestoreRequest>(layout.restoreRequest(input.restoreId));
  if (!request) throw new Error(`No restore '${input.restoreId}'`);
  const results = new Map<number, ImportBatchResult>();
  for await (const name of vault.listNames(layout.restoreResultsPrefix(input.restoreId))) {
    const result = await vault.readJson<ImportBatchResult>(name);
    if (result) results.set(result.batch, result);
  }
  const failures: RestoreReport['failures'] = [];
  let imported = 0;
  let bytesImported = 0;
  let throttledResponses = 0;
  let throttleWaitInMs = 0;
  for (let batch = 0; batch < (input.plan?.batchCount ?? 0); batch++) {
    const result = results.get(batch);
    const planned = await readImportBatch(vault, input.restoreId, batch);
    const byId = new Map(planned.items.map((i) => [i.sourceId, i]));
    if (!result) {
      const reason = input.canceled
        ? 'The restore was canceled before this item was imported'
        : 'Its import batch did not run to the end';
      for (const item of planned.items)
        failures.push({
          sourceItemId: item.sourceId,
          folderPath: item.folderPath,
          ...(item.subject !== undefined ? { subject: item.subject } : {}),
          code: input.canceled ? 'Canceled' : 'NotImported',
          message: reason,
        });
      continue;
    }
    bytesImported += result.bytesImported;
    throttledResponses += result.throttledResponses;
    throttleWaitInMs += result.throttleWaitInMs;
    for (const outcome of result.outcomes) {
      if (outcome.status !== 'failed') {
        imported++;
        continue;
      }
      const item = byId.get(outcome.sourceId);
      failures.push({
        sourceItemId: outcome.sourceId,
        folderPath: item?.folderPath ?? '',
        ...(item?.subject !== undefined ? { subject: item.subject } : {}),
        code: outcome.code,
        message: outcome.message,
      });
    }
  }
  const finishedAt = now();
  const status: RestoreReport['status'] = input.canceled
    ? 'Canceled'
    : input.error
      ? 'Failed'
      : failures.length
        ? 'CompletedWithErrors'
        : 'Completed';
  return {
    restoreId: input.restoreId,
    status,
    requestedAt: request.requestedAt,
    finishedAt: finishedAt.toISOString(),
    durationInMs: finishedAt.getTime() - Date.parse(request.requestedAt),
    source: request.source,
    target: request.target,
    destination: { mode: request.destination.mode, root: input.plan?.destinationRoot ?? '' },
    collisions: request.collisions,
    counts: {
      selected: input.plan?.selected ?? 0,
      imported,
      skippedAlreadyPresent: input.plan?.skippedPresent ?? 0,
      failed: failures.length,
    },
    bytesImported,
    throttling: { responses: throttledResponses, waitInMs: throttleWaitInMs },
    failures,
    ...(input.error ? { error: input.error } : {}),
  };
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
