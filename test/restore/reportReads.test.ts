import { beforeAll, describe, expect, it, vi } from 'vitest';
import { buildRestoreReport } from '../../shared/restore/report.js';
import type {
  ImportBatchResult,
  PlannedImport,
  PlannedImportBatch,
  RestorePlanSummary,
} from '../../shared/restore/types.js';
import { writeIndexedNdjson } from '../../shared/vault/indexedNdjson.js';
import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { plannedImport, plantReportedRestoreRequest } from '../support/restoreRequest.js';
import { freshVault } from '../support/vault.js';

/**
 * What a restore report reads: the plan once and each batch's result once, so a restore of 25,000 batches is
 * reported well within an activity's time (reading the plan's index again for every batch took hours).
 */

let vault: VaultStore;
const RESTORE = 'restore-20261201T000000Z-0fa11ed0';
const BATCHES = 240;
/** Batches stopped without a result (every tenth); in each, the first item had been imported and journaled. */
const unfinished = (batch: number) => batch % 10 === 3;
/** Batches whose result names their second item as failed. */
const withFailure = (batch: number) => batch % 40 === 5;

const planned = (sourceId: string, searchKey?: string) =>
  plannedImport(sourceId, searchKey, { subject: `Subject ${sourceId}` });

function result(batch: number, items: PlannedImport[]): ImportBatchResult {
  return {
    batch,
    outcomes: items.map((item, n) =>
      withFailure(batch) && n === 1
        ? { sourceId: item.sourceId, status: 'failed', code: 'ErrorQuotaExceeded', message: 'full' }
        : { sourceId: item.sourceId, status: 'imported', newItemId: `new-${item.sourceId}` },
    ),
    bytesImported: 200,
    throttledResponses: 1,
    throttleWaitInMs: 10,
    sessionsRenewed: 0,
  };
}

const plan: RestorePlanSummary = {
  batchCount: BATCHES,
  selected: BATCHES * 2,
  toImport: BATCHES * 2,
  skippedPresent: 0,
  bytesToImport: BATCHES * 200,
  destinationRoot: 'Restored',
  foldersCreated: 0,
};

beforeAll(async () => {
  ({ vault } = await freshVault('report-reads'));
  await plantReportedRestoreRequest(vault, RESTORE);
  // Two items a batch; the second of every fifth batch has no search key.
  const batches: PlannedImportBatch[] = Array.from({ length: BATCHES }, (_, batch) => ({
    batch,
    items: [
      planned(`${batch}-a`, `key-${batch}-a`),
      planned(`${batch}-b`, batch % 5 === 0 ? undefined : `key-${batch}-b`),
    ],
  }));
  const file = { data: layout.restorePlan(RESTORE), index: layout.restorePlanIndex(RESTORE), description: 'plan' };
  await writeIndexedNdjson(vault, file, batches);
  for (const { batch, items } of batches) {
    if (!unfinished(batch)) await vault.writeJson(layout.restoreResult(RESTORE, batch), result(batch, items));
    else await vault.writeJson(layout.restoreJournal(RESTORE, `${batch}-a`), { sourceId: `${batch}-a` });
  }
});

describe("a restore report's reading", () => {
  it('reads the plan once and each batch result once, and names what failed or never ran', async () => {
    const readJson = vi.spyOn(vault, 'readJson');
    const readRange = vi.spyOn(vault, 'readRange');
    const listNames = vi.spyOn(vault, 'listNames');
    const report = await buildRestoreReport(vault, { restoreId: RESTORE, plan });

    const jsonReads = readJson.mock.calls.map(([name]) => name);
    expect(jsonReads.filter((name) => name === layout.restorePlanIndex(RESTORE))).toHaveLength(1);
    expect(jsonReads.filter((name) => name.startsWith(`restores/${RESTORE}/results/`))).toHaveLength(BATCHES);
    expect(readRange.mock.calls.filter(([name]) => name === layout.restorePlan(RESTORE)).length).toBeLessThanOrEqual(2);
    expect(listNames).not.toHaveBeenCalled();

    const unfinishedBatches = Array.from({ length: BATCHES }, (_, batch) => batch).filter(unfinished);
    const failedBatches = Array.from({ length: BATCHES }, (_, batch) => batch).filter(withFailure);
    expect(report.status).toBe('CompletedWithErrors');
    expect(report.counts).toEqual({
      selected: BATCHES * 2,
      imported: BATCHES * 2 - unfinishedBatches.length - failedBatches.length,
      skippedAlreadyPresent: 0,
      failed: unfinishedBatches.length + failedBatches.length,
    });
    expect(report.bytesImported).toBe((BATCHES - unfinishedBatches.length) * 200);
    expect(report.throttling).toEqual({
      responses: BATCHES - unfinishedBatches.length,
      waitInMs: (BATCHES - unfinishedBatches.length) * 10,
    });
    const expectedFailures = Array.from({ length: BATCHES }, (_, batch) => batch)
      .filter((batch) => unfinished(batch) || withFailure(batch))
      .map((batch) => ({
        sourceItemId: `${batch}-b`,
        folderPath: 'Inbox',
        subject: `Subject ${batch}-b`,
        code: unfinished(batch) ? 'NotImported' : 'ErrorQuotaExceeded',
        message: unfinished(batch) ? 'Its import batch did not run to the end' : 'full',
      }));
    expect(report.failures).toEqual(expectedFailures);
    expect(report.warnings).toEqual([
      expect.objectContaining({
        code: 'NoSearchKey',
        message: expect.stringMatching(new RegExp(`^${BATCHES / 5} item\\(s\\) have no search key`)),
      }),
    ]);
  });
});
