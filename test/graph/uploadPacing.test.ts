import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { generatePayload } from '../../local/simulator/payload.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, startSeededSimulator } from '../support/graph.js';

// Exchange's budget scaled down: 400 kB per second per mailbox, in fixed windows (the simulator's model).
const budget = { bytes: 400_000, windowMs: 1_000 };
let sim: Simulator;

beforeAll(async () => {
  sim = await startSeededSimulator(
    { mailboxes: [{ upn: 'source@contoso.example', items: 12, sizes: [60_000, 60_000] }, { upn: 'paced@contoso.example', items: 0 }, { upn: 'unpaced@contoso.example', items: 0 }] },
    { limits: { uploadBudget: budget } },
  );
});
afterAll(() => sim.close());

async function importTwelve(upn: string, uploadBudget: typeof budget | null): Promise<{ throttled: number; imported: number }> {
  const { client } = clientFor(sim, { uploadBudget });
  const { primaryMailboxId } = await client.getMailboxIds(upn);
  const session = await client.createImportSession(primaryMailboxId);
  const inbox = await client.getFolder(primaryMailboxId, 'inbox');
  // 12 exported items of about 60 kB: 80 kB of base64 each, so about two and a half windows' worth.
  const items = [...sim.tenant.mailbox('source@contoso.example').items.values()];
  expect(items).toHaveLength(12);
  await Promise.all(
    items.map(async (item) => {
      const bytes = Buffer.concat([...generatePayload(item.spec, sim.tenant.integrityKey)]);
      await client.importItem(session, { folderId: inbox.id, length: bytes.length, openData: () => Readable.from([bytes]) });
    }),
  );
  const counters = sim.throttle.countersFor(primaryMailboxId);
  return { throttled: counters.throttled, imported: counters.importedItems };
}

describe('imports under the upload budget', () => {
  it('are never throttled when paced to the budget, and run into it when not', async () => {
    expect(await importTwelve('paced@contoso.example', budget)).toEqual({ throttled: 0, imported: 12 });
    const unpaced = await importTwelve('unpaced@contoso.example', null);
    expect(unpaced.imported).toBe(12);
    expect(unpaced.throttled).toBeGreaterThan(0);
  }, 60_000);
});
