import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../local/simulator/index.js';
import { LOST_ANSWER_SLOT_HOLD_IN_MS, MailboxLimiter } from '../../shared/graph/index.js';
import { clientFor, startSeededSimulator } from '../support/graph.js';

/**
 * A request whose connection drops goes on in Exchange, which counts it against the mailbox's four until it has
 * finished there (the simulator: SIM_LOST_CONNECTION_HOLD_MS after the drop). The client cannot see when that is,
 * so it keeps the dropped request's slot a while: the requests it sends meanwhile never make a fifth. One drop is
 * scripted on the first read; the simulator counts what is in flight when each request arrives.
 */
const upn = 'olga@contoso.example';
const SIM_LOST_HOLD_MS = 300;

describe('a slot whose answer was lost', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSeededSimulator(
      { mailboxes: [{ upn, items: 5 }] },
      { latencyMs: 15, lostConnectionSlotHoldMs: SIM_LOST_HOLD_MS },
    );
  });
  afterAll(() => sim.close());

  /** 80 folder reads at once, the first of them dropped: the most in flight and the 429s the simulator saw. */
  async function readWithOneDrop(limiter: MailboxLimiter): Promise<{ maxInFlight: number; throttled: number }> {
    const mailbox = sim.tenant.mailbox(upn);
    sim.throttle.resetCounters();
    sim.script({ fault: 'drop', operation: 'getFolder', mailbox: upn, times: 1 });
    const { client } = clientFor(sim, { limiter, retry: { defaultRetryAfterInMs: 5, maxRetries: 50 } });
    const folderIds = [...mailbox.folders.keys()];
    await Promise.all(
      Array.from({ length: 80 }, (_, i) => client.getFolder(mailbox.id, folderIds[i % folderIds.length]!)),
    );
    const counters = sim.throttle.countersFor(mailbox.id);
    expect(sim.throttle.scripted).toEqual([]); // the drop happened
    return { maxInFlight: counters.maxInFlight, throttled: counters.throttled };
  }

  it('is kept longer than Exchange goes on with the request: never a fifth in flight, no 429', async () => {
    expect(LOST_ANSWER_SLOT_HOLD_IN_MS).toBeGreaterThan(SIM_LOST_HOLD_MS);
    expect(await readWithOneDrop(new MailboxLimiter())).toEqual({ maxInFlight: 4, throttled: 0 });
  });

  it('makes a fifth request in flight when freed as if the request had ended', async () => {
    const careless = new MailboxLimiter(4, { lostAnswerSlotHoldInMs: 0 });
    const seen = await readWithOneDrop(careless);
    expect(seen.maxInFlight).toBe(5);
    expect(seen.throttled).toBeGreaterThan(0);
  });
});
