import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../local/simulator/index.js';
import { MailboxLimiter } from '../../shared/graph/index.js';
import { clientFor, startSeededSimulator } from '../support/graph.js';

/**
 * Exchange frees a mailbox's concurrency slot a moment after the answer ends (the simulator: 5 ms by default), at
 * a latency that is not zero. A client that sends its next request the instant an answer arrives meets 429s; ours
 * keeps each slot a little longer and meets none.
 */
const upn = 'ines@contoso.example';

describe('a concurrency slot held after the answer', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSeededSimulator({ mailboxes: [{ upn, items: 5 }] }, { latencyMs: 15 });
  });
  afterAll(() => sim.close());

  async function readFoldersAtOnce(limiter: MailboxLimiter): Promise<number> {
    const mailbox = sim.tenant.mailbox(upn);
    const counters = sim.throttle.countersFor(mailbox.id);
    const throttledBefore = counters.throttled;
    const { client } = clientFor(sim, { limiter, retry: { defaultRetryAfterInMs: 5, maxRetries: 50 } });
    const folderIds = [...mailbox.folders.keys()];
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => client.getFolder(mailbox.id, folderIds[i % folderIds.length]!)),
    );
    return counters.throttled - throttledBefore;
  }

  it('is not run into by the client: 60 reads, four at a time, no 429', async () => {
    expect(sim.options.concurrencySlotHoldMs).toBeGreaterThan(0);
    expect(await readFoldersAtOnce(new MailboxLimiter())).toBe(0);
    expect(sim.throttle.countersFor(sim.tenant.mailbox(upn).id).maxInFlight).toBeLessThanOrEqual(4);
  });

  it('is run into by a client that frees its slot the instant the answer ends', async () => {
    expect(await readFoldersAtOnce(new MailboxLimiter(4, { slotReleaseDelayInMs: 0 }))).toBeGreaterThan(0);
  });
});
