import { importBatch } from '../shared/restore/importBatch.js';
import { planRestore, planRestoreSlice } from '../shared/restore/plan.js';
import { finishRestore } from '../shared/restore/report.js';
import type { RestoreRequest } from '../shared/restore/types.js';
import { getServices } from '../shared/services.js';
import { layout } from '../shared/vault/layout.js';
import * as contracts from './contracts.js';
import { registerActivity } from './durable.js';

/** Import batches: a handful of items, and no more bytes than a few minutes of a mailbox's upload budget. */
const RESTORE_PLAN_SETTINGS = { itemsPerBatch: 10, bytesPerBatch: 64 * 1024 * 1024 };

registerActivity(contracts.planRestore, async (input) => {
  const { graph, vault, settings, request } = await planning(input.restoreId);
  const summary = await planRestore(graph, vault, settings, request);
  // Kept so a canceled restore's report can still name every item it did not import.
  await vault.writeJson(layout.restorePlanSummary(input.restoreId), summary);
  return summary;
});

registerActivity(contracts.planRestoreSlice, async (input) => {
  const { graph, vault, settings, request } = await planning(input.restoreId);
  const step = await planRestoreSlice(graph, vault, settings, request, input.slice);
  if ('summary' in step) await vault.writeJson(layout.restorePlanSummary(input.restoreId), step.summary);
  return step;
});

/** What planning a restore needs: the clients, the request, and the plan's settings. */
async function planning(restoreId: string) {
  const { graph, vault, config } = await getServices();
  const request = await vault.readJson<RestoreRequest>(layout.restoreRequest(restoreId));
  if (!request) throw new Error(`No restore '${restoreId}'`);
  // Other instances may be importing into the target (another restore): its limits are shared.
  graph.shareLimitsAcrossInstances(request.target.mailboxId);
  const settings = { ...RESTORE_PLAN_SETTINGS, sliceItems: config.restore.planSliceItems };
  return { graph, vault, settings, request };
}

registerActivity(contracts.importBatch, async (input, context) => {
  const { graph, vault, importSessions, config } = await getServices();
  // Other instances may be importing into the same mailbox (this restore's other batches, another restore).
  graph.shareLimitsAcrossInstances(input.targetMailboxId);
  return importBatch(graph, vault, importSessions, input, {
    settleInMs: config.restore.importSettleInMs,
    logger: { info: (m) => context.log(m), warn: (m) => context.warn(m) },
  });
});

registerActivity(contracts.finishRestore, async (input) => {
  const { vault } = await getServices();
  const report = await finishRestore(vault, input);
  return { restoreId: report.restoreId, status: report.status, counts: report.counts };
});
