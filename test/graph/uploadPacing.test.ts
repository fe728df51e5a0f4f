import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { generatePayload } from '../../local/simulator/payload.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, startSeededSimulator } from '../support/graph.js';

// Exchange's budget scaled down: 2 MB per second per mailbox, in fixed windows (the simulator's model). Items
// are a few percent of it, as mail is of the real budget.
const budget = { bytes: 2_000_000, windowMs: 1_000 };
let sim: Simulator;

beforeAll(async () => {
  sim = await startSeededSimulator(
    {
      mailboxes: [
        { upn: 'source@contoso.example', items: 60, sizes: [60_000, 60_000] },
        { upn: 'paced@contoso.example', items: 0 },
        { upn: 'unpaced@contoso.example', items: 0 },
      ],
    },
    { limits: { uploadBudget: budget } },
  );
});
afterAll(() => sim.close());

async function importAll(
  upn: string,
  uploadBudget: typeof budget | null,
): Promise<{ throttled: number; imported: number; bodyBytes: number; ms: number }> {
  const { client } = clientFor(sim, { uploadBudget });
  const { primaryMailboxId } = await client.getMailboxIds(upn);
  const session = await client.createImportSession(primaryMailboxId);
  const inbox = await client.getFolder(primaryMailboxId, 'inbox');
  // 60 exported items of about 60 kB: 80 kB of base64 each, so about two and a half windows' worth.
  const items = [...sim.tenant.mailbox('source@contoso.example').items.values()];
  expect(items).toHaveLength(60);
  const started = Date.now();
  await Promise.all(
    items.map(async (item) => {
      const bytes = Buffer.concat([...generatePayload(item.spec, sim.tenant.integrityKey)]);
      await client.importItem(session, {
        folderId: inbox.id,
        length: bytes.length,
        openData: () => Readable.from([bytes]),
      });
    }),
  );
  const ms = Date.now() - started;
  const counters = sim.throttle.countersFor(primaryMailboxId);
  return { throttled: counters.throttled, imported: counters.importedItems, bodyBytes: counters.importedBytes, ms };
}

describe('imports under the upload budget', () => {
  it('are paced to the budget they are told, never throttled under it, and run into it when not paced', async () => {
    // Told three quarters of the real budget (headroom for timing on a busy test machine; in Exchange's five-minute
    // window the bytes of four uploads in flight are nothing): at 95 % of that, the run takes at least so long.
    const told = { bytes: budget.bytes * 0.75, windowMs: budget.windowMs };
    const paced = await importAll('paced@contoso.example', told);
    expect(paced).toMatchObject({ throttled: 0, imported: 60 });
    const pacedRate = (told.bytes / told.windowMs) * 0.95; // bytes per ms
    const lastItem = paced.bodyBytes / 60;
    expect(paced.ms).toBeGreaterThanOrEqual((paced.bodyBytes - lastItem) / pacedRate - 50);

    const unpaced = await importAll('unpaced@contoso.example', null);
    expect(unpaced.imported).toBe(60);
    expect(unpaced.throttled).toBeGreaterThan(0);
  }, 60_000);
});
