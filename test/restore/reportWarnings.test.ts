import { beforeAll, describe, expect, it } from 'vitest';
import { buildRestoreReport } from '../../shared/restore/report.js';
import type { ImportBatchResult } from '../../shared/restore/types.js';
import { writeIndexedNdjson } from '../../shared/vault/indexedNdjson.js';
import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { plannedImport, plantReportedRestoreRequest } from '../support/restoreRequest.js';
import { freshVault } from '../support/vault.js';

/** What a restore report says about items whose import the journal cannot make safe: no search key, no journal entry. */

let vault: VaultStore;
const RESTORE = 'restore-20261201T000000Z-0badcafe';

const planned = plannedImport;

beforeAll(async () => {
  ({ vault } = await freshVault('report'));
  await plantReportedRestoreRequest(vault, RESTORE);
  const batches = [
    { batch: 0, items: [planned('a', 'key-a'), planned('b'), planned('c')] },
    { batch: 1, items: [planned('d', 'key-d'), planned('e', 'key-e')] },
  ];
  await writeIndexedNdjson(
    vault,
    { data: layout.restorePlan(RESTORE), index: layout.restorePlanIndex(RESTORE), description: 'plan' },
    batches,
  );
  const result: ImportBatchResult = {
    batch: 0,
    outcomes: [
      { sourceId: 'a', status: 'imported', newItemId: 'n-a', warning: { code: 'JournalNotWritten', message: 'm' } },
      { sourceId: 'b', status: 'imported', newItemId: 'n-b', warning: { code: 'PossibleDuplicate', message: 'm' } },
      { sourceId: 'c', status: 'imported', newItemId: 'n-c' },
    ],
    bytesImported: 300,
    throttledResponses: 0,
    throttleWaitInMs: 0,
    sessionsRenewed: 0,
  };
  await vault.writeJson(layout.restoreResult(RESTORE, 0), result);
  // Batch 1 stopped without a result; its first item had been imported and journaled.
  await vault.writeJson(layout.restoreJournal(RESTORE, 'd'), { sourceId: 'd', newItemId: 'n-d' });
});

describe('a restore report', () => {
  it('names items imported with a warning, and says how many items have no search key', async () => {
    const plan = {
      batchCount: 2,
      selected: 5,
      toImport: 5,
      skippedPresent: 0,
      bytesToImport: 500,
      destinationRoot: 'Restored',
      foldersCreated: 0,
    };
    const report = await buildRestoreReport(vault, { restoreId: RESTORE, plan, canceled: true });
    expect(report.status).toBe('Canceled');
    expect(report.counts).toMatchObject({ selected: 5, imported: 4, failed: 1 });
    expect(report.failures).toEqual([expect.objectContaining({ sourceItemId: 'e', code: 'Canceled' })]);
    expect(report.warnings).toEqual([
      expect.objectContaining({
        code: 'NoSearchKey',
        message: expect.stringMatching(/^2 item\(s\) have no search key/),
      }),
      { sourceItemId: 'a', code: 'JournalNotWritten', message: 'm' },
      { sourceItemId: 'b', code: 'PossibleDuplicate', message: 'm' },
    ]);
  });
});
