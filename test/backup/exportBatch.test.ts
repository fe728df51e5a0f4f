import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportBatch } from '../../shared/backup/exportBatch.js';
import { planMailbox } from '../../shared/backup/plan.js';
import type { BatchResult } from '../../shared/backup/types.js';
import { layout } from '../../shared/vault/layout.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, startSeededSimulator } from '../support/graph.js';
import { freshVault } from '../support/vault.js';

let sim: Simulator;
const upn = 'kim@contoso.example';

beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn, items: 45 }] });
});
afterAll(() => sim.close());

describe('an export activity run twice (activities run at least once)', () => {
  it('keeps the throttling its first run met, adding the second run’s to it, while the second run’s outcomes stand', async () => {
    const { client } = clientFor(sim);
    const { vault } = await freshVault('batch');
    const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
    const runId = 'run-twice';
    const plan = await planMailbox(
      client,
      vault,
      { maxItemsPerBatch: 20, batchReportedBytes: 50_000_000 },
      { runId, mailboxId, upn },
    );
    const input = { runId, mailboxId, batch: 0, count: plan.batchCount, planVersion: plan.planVersion };
    const lastResult = () => vault.readJson<BatchResult>(layout.runBatchResult(runId, mailboxId, plan.batchCount - 1));

    sim.script({ fault: 'http429', operation: 'exportItems', mailbox: upn, times: 2, retryAfterSeconds: 0 });
    const first = await exportBatch(client, vault, input);
    expect(first.stored).toBe(45);
    expect((await lastResult())!.throttledResponses).toBe(2);

    // The worker died after its work but before it reported: the same activity runs again, throttled once more.
    sim.script({ fault: 'http429', operation: 'exportItems', mailbox: upn, times: 1, retryAfterSeconds: 0 });
    const second = await exportBatch(client, vault, input);
    expect(second.stored).toBe(45);
    const result = (await lastResult())!;
    expect(result.throttledResponses).toBe(3);
    expect(result.results.every((r) => r.ok && !r.written)).toBe(true); // the second run found every version stored
  });
});
