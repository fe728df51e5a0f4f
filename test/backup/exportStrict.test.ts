import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { exportBatch } from '../../shared/backup/exportBatch.js';
import { planMailbox } from '../../shared/backup/plan.js';
import type { BatchResult, ItemResult } from '../../shared/backup/types.js';
import type { DeltaPage, MailboxClient, MailboxItem } from '../../shared/graph/index.js';
import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, FAST_RETRY, startSeededSimulator } from '../support/graph.js';
import { freshVault } from '../support/vault.js';

let sim: Simulator;
const big = 'big@contoso.example';
const small = 'small@contoso.example';
const lone = 'lone@contoso.example';
/** Two of the big mailbox's items together are over it: every multi-item export of that mailbox is a 504. */
const LIMIT = 100_000;

beforeAll(async () => {
  sim = await startSeededSimulator(
    {
      mailboxes: [
        { upn: big, items: 6, sizes: [200_000, 200_000] },
        { upn: small, items: 8, sizes: [2_000, 4_000] },
        { upn: lone, items: 1, sizes: [200_000, 200_000] },
      ],
    },
    { maxExportResponseBytes: LIMIT },
  );
});
afterAll(() => sim.close());

/** exportItems requests the mailbox received, refused ones included (a 504 or a 400 is a call too). */
const exportCalls = (upn: string) => sim.throttle.countersFor(sim.tenant.mailbox(upn).id).requests.exportItems ?? 0;
const settings = { maxItemsPerBatch: 20, batchReportedBytes: 50_000_000 };

/** Plans the mailbox (through `lister` for the delta rounds) and exports every batch in one activity. */
async function backUp(upn: string, lister?: (client: MailboxClient) => MailboxClient) {
  const { client } = clientFor(sim);
  const { vault } = await freshVault('strict');
  const mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
  const runId = `run-${upn.split('@')[0]}`;
  const plan = await planMailbox(lister ? lister(client) : client, vault, settings, { runId, mailboxId, upn });
  const callsBefore = exportCalls(upn);
  const input = { runId, mailboxId, batch: 0, count: plan.batchCount, planVersion: plan.planVersion };
  const summary = await exportBatch(client, vault, input);
  const results: ItemResult[] = [];
  for (let batch = 0; batch < plan.batchCount; batch++)
    results.push(...(await vault.readJson<BatchResult>(layout.runBatchResult(runId, mailboxId, batch)))!.results);
  return { vault, plan, summary, results, calls: exportCalls(upn) - callsBefore };
}

/** Every stored item's blob holds exactly the bytes the simulator generates for it. */
async function expectStoredByteForByte(vault: VaultStore, upn: string, results: ItemResult[]): Promise<void> {
  const mailbox = sim.tenant.mailbox(upn);
  for (const result of results.filter((r) => r.ok)) {
    const hash = createHash('sha256');
    for await (const chunk of await vault.openItemVersion(result.ok ? result.blob : '')) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(sim.tenant.digest(mailbox.items.get(result.id)!));
  }
}

/** A lister whose delta rounds carry each page twice, as Graph may list an item again within a round. */
function listingEachPageTwice(client: MailboxClient): MailboxClient {
  return Object.assign(Object.create(client) as MailboxClient, {
    async *listItemChanges(...args: Parameters<MailboxClient['listItemChanges']>) {
      for await (const page of client.listItemChanges(...args)) {
        yield { changed: page.changed, removed: [] } satisfies DeltaPage<MailboxItem>;
        yield page;
      }
    },
  });
}

/** A lister whose first page carries one more item, with an id Exchange would call malformed. */
function listingAMalformedId(client: MailboxClient): MailboxClient {
  let added = false;
  return Object.assign(Object.create(client) as MailboxClient, {
    async *listItemChanges(...args: Parameters<MailboxClient['listItemChanges']>) {
      for await (const page of client.listItemChanges(...args)) {
        const extra = !added && page.changed[0] ? [{ ...page.changed[0], id: 'not an id!' }] : [];
        added ||= extra.length > 0;
        yield { ...page, changed: [...page.changed, ...extra] };
      }
    },
  });
}

describe('exportItems as a whole call, against a strict simulator', () => {
  it('splits a batch answered 504 at once, and stores every item byte for byte', async () => {
    const { vault, plan, summary, results, calls } = await backUp(big);
    expect(plan.batchCount).toBe(1);
    expect(summary).toMatchObject({ stored: 6, failed: 0 });
    // One whole-batch call, answered 504, then one call per item: the batch is never asked for again.
    expect(calls).toBe(1 + 6);
    await expectStoredByteForByte(vault, big, results);
  });

  it('retries a single item answered 504 with backoff, then reports it failed with the reason', async () => {
    sim.script({ fault: 'http504', operation: 'exportItems', mailbox: lone, times: 100 });
    const { summary, results, calls } = await backUp(lone);
    sim.throttle.scripted.length = 0;
    expect(calls).toBe(FAST_RETRY.maxRetries + 1);
    expect(summary).toMatchObject({ stored: 0, failed: 1 });
    const [failed] = results;
    expect(failed).toMatchObject({ ok: false, code: 'RetriesExhausted' });
    expect(failed!.ok ? '' : failed!.message).toContain('504 GatewayTimeout');
  });

  it('never sends an id twice, though the delta round listed every item twice', async () => {
    const { vault, plan, summary, results, calls } = await backUp(small, listingEachPageTwice);
    expect(plan.itemsToExport).toBe(8);
    expect(summary).toMatchObject({ stored: 8, failed: 0 });
    // One call for the one batch: a batch with a duplicate would have been refused whole (400) and split.
    expect(calls).toBe(1);
    await expectStoredByteForByte(vault, small, results);
  });

  it('fails only the item with a malformed id when Graph refuses the whole call for it', async () => {
    const { summary, results, calls } = await backUp(small, listingAMalformedId);
    expect(summary).toMatchObject({ stored: 8, failed: 1 });
    expect(results.filter((r) => !r.ok)).toEqual([
      expect.objectContaining({ id: 'not an id!', code: 'ErrorInvalidIdMalformed' }),
    ]);
    expect(calls).toBe(1 + 9);
  });
});
