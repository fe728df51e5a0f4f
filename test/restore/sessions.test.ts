import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../local/simulator/index.js';
import { ImportSessionCache } from '../../shared/restore/sessions.js';
import { clientFor, startSeededSimulator } from '../support/graph.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn: 'target@contoso.example', items: 0 }] });
});
afterAll(() => sim.close());

describe('the import session cache', () => {
  it('shares one session per mailbox and counts a renewal for the caller that set it off only', async () => {
    const { client } = clientFor(sim);
    const { primaryMailboxId } = await client.getMailboxIds('target@contoso.example');
    const cache = new ImportSessionCache(client);
    const a = { count: 0 };
    const b = { count: 0 };
    const first = await cache.get(primaryMailboxId, { renewed: a });
    expect(await cache.get(primaryMailboxId, { renewed: b })).toBe(first);

    // Both batches are refused with the same session: the first to say so replaces it, the second finds it gone.
    cache.invalidate(first, a);
    cache.invalidate(first, b);
    const second = await cache.get(primaryMailboxId, { renewed: b });
    expect(second).not.toBe(first);
    expect(await cache.get(primaryMailboxId, { renewed: a })).toBe(second);
    expect([a.count, b.count, cache.renewals]).toEqual([1, 0, 1]);
  });
});
