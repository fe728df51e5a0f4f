import {
  ExportStreamError,
  GraphRequestError,
  GraphRetriesExhaustedError,
  type ExportedItem,
  type GraphLogger,
  type MailboxClient,
} from '../graph/index.js';
import { layout } from '../vault/layout.js';
import { VersionConflictError, type VaultStore } from '../vault/vaultStore.js';
import { readPlannedBatch } from './plan.js';
import type { BatchResult, BatchSummary, ItemResult, PlannedItem } from './types.js';

export interface ExportBatchInput {
  runId: string;
  mailboxId: string;
  batch: number;
}

/** Per-item codes worth one more try on their own (transient on Exchange's side, or simply left out). */
const RETRY_ALONE = new Set(['NotReturned', 'NoData', 'ErrorInternalServerTransientError', 'ErrorTimeoutExpired', 'ErrorServerBusy', 'ErrorMailboxStoreUnavailable']);

/** A whole call that failed: split, and give each item its own call. */
const WHOLE_CALL_FAILURES = new Set(['ExportStreamBroken', 'RetriesExhausted', 'NetworkFailure']);

function failureOf(error: unknown): { code: string; message: string } {
  if (error instanceof GraphRequestError) return { code: error.code, message: error.message };
  if (error instanceof GraphRetriesExhaustedError) return { code: 'RetriesExhausted', message: error.message };
  if (error instanceof ExportStreamError) return { code: 'ExportStreamBroken', message: error.message };
  if (error instanceof VersionConflictError) return { code: 'VersionConflict', message: error.message };
  return { code: (error as Error)?.name ?? 'Error', message: (error as Error)?.message ?? String(error) };
}

/**
 * One exportItems call for a planned batch, each item streamed into its write-once blob while it is hashed.
 * Per-item errors are recorded, not thrown. A batch that breaks as a whole, and items Graph left out or
 * failed transiently, are tried once more item by item. The outcome of every item goes to the run's folder,
 * so the activity can run again (at-least-once) without harm.
 */
export async function exportBatch(client: MailboxClient, vault: VaultStore, input: ExportBatchInput, logger?: GraphLogger): Promise<BatchSummary> {
  const { runId, mailboxId, batch } = input;
  const planned = await readPlannedBatch(vault, runId, mailboxId, batch);
  const throttleBefore = client.throttleStats(mailboxId);
  const results = new Map<string, ItemResult>();
  const byId = new Map(planned.items.map((item) => [item.id, item]));

  const storeOne = async (item: ExportedItem, plannedItem: PlannedItem): Promise<ItemResult> => {
    if (!item.data) return { id: item.itemId, ok: false, code: item.error.code, message: item.error.message };
    // The version blob is named after the changeKey planned; Graph's answer wins if the item changed since.
    const changeKey = item.changeKey ?? plannedItem.changeKey;
    const stored = await vault.writeItemVersion(layout.itemVersion(mailboxId, item.itemId, changeKey), item.data);
    return { id: item.itemId, ok: true, blob: stored.blobName, sha256: stored.sha256, length: stored.length, written: stored.written };
  };

  const run = async (items: PlannedItem[]): Promise<void> => {
    try {
      for await (const exported of client.exportItems(mailboxId, items.map((i) => i.id))) {
        const plannedItem = byId.get(exported.itemId);
        if (!plannedItem) continue; // not asked for: ignore
        try {
          results.set(exported.itemId, await storeOne(exported, plannedItem));
        } catch (error) {
          if (error instanceof ExportStreamError) throw error; // the response broke under this item
          results.set(exported.itemId, { id: exported.itemId, ok: false, ...failureOf(error) });
        }
      }
    } catch (error) {
      // The whole call failed or broke off: whatever has no result yet is marked for a retry alone.
      for (const item of items) if (!results.has(item.id)) results.set(item.id, { id: item.id, ok: false, ...failureOf(error) });
      logger?.warn(`exportBatch ${batch}: ${(error as Error).message}; retrying its unfinished items one by one`);
    }
  };

  await run(planned.items);
  const retry = planned.items.filter((item) => {
    const result = results.get(item.id);
    if (!result || result.ok) return false;
    return RETRY_ALONE.has(result.code) || (planned.items.length > 1 && WHOLE_CALL_FAILURES.has(result.code));
  });
  for (const item of retry) {
    results.delete(item.id);
    await run([item]);
  }

  const throttleAfter = client.throttleStats(mailboxId);
  const ordered = planned.items.map((item) => results.get(item.id) ?? { id: item.id, ok: false as const, code: 'NotExported', message: 'No outcome recorded' });
  const record: BatchResult = {
    batch,
    results: ordered,
    throttledResponses: throttleAfter.throttledResponses - throttleBefore.throttledResponses,
    throttleWaitInMs: throttleAfter.throttleWaitInMs - throttleBefore.throttleWaitInMs,
  };
  await vault.writeJson(layout.runBatchResult(runId, mailboxId, batch), record);
  return {
    batch,
    stored: ordered.filter((r) => r.ok).length,
    failed: ordered.filter((r) => !r.ok).length,
    bytes: ordered.reduce((sum, r) => sum + (r.ok ? r.length : 0), 0),
  };
}
