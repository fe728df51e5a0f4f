import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Readable } from 'node:stream';
import { MailboxLimiter, UPLOAD_PACE_SHARE } from '../../shared/graph/mailboxLimiter.js';
import { generatePayload } from '../../local/simulator/payload.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, startSeededSimulator } from '../support/graph.js';

/**
 * Upload pacing, asserted on the schedule the pacer keeps (a fake clock), and end to end against the simulator's
 * byte budget with assertions that do not depend on how fast this machine is.
 */

describe('the upload pacer’s schedule', () => {
  afterEach(() => vi.useRealTimers());

  it('starts uploads one paid share apart, never more than the budget’s share in any window', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const budget = { bytes: 1_000_000, windowMs: 1_000 };
    const limiter = new MailboxLimiter(4, { uploadBudget: budget });
    const sizes = Array.from({ length: 40 }, (_, i) => 50_000 + (i % 7) * 10_000);
    const starts: Array<{ at: number; bytes: number }> = [];
    const all = Promise.all(
      sizes.map((bytes) => limiter.paceUpload('MBX:a@b', bytes).then(() => starts.push({ at: Date.now(), bytes }))),
    );
    await vi.runAllTimersAsync();
    await all;

    const rate = (budget.bytes / budget.windowMs) * UPLOAD_PACE_SHARE;
    expect(starts).toHaveLength(sizes.length);
    // Each upload starts only once the one before it is paid for at the paced rate.
    for (let i = 1; i < starts.length; i++)
      expect(starts[i]!.at - starts[i - 1]!.at).toBeGreaterThanOrEqual(Math.floor(starts[i - 1]!.bytes / rate));
    // So no window of the budget's length sees more than its share, plus the one upload that opens it.
    const largest = Math.max(...sizes);
    for (const first of starts) {
      const inWindow = starts.filter((s) => s.at >= first.at && s.at < first.at + budget.windowMs);
      const bytes = inWindow.reduce((sum, s) => sum + s.bytes, 0);
      expect(bytes).toBeLessThanOrEqual(budget.bytes * UPLOAD_PACE_SHARE + largest);
    }
  });

  it('paces each mailbox on its own, and not at all without a budget', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const paced = new MailboxLimiter(4, { uploadBudget: { bytes: 100_000, windowMs: 1_000 } });
    await paced.paceUpload('MBX:one@t', 90_000);
    await paced.paceUpload('MBX:two@t', 90_000); // another mailbox: no wait
    expect(Date.now()).toBe(1_000_000);
    const unpaced = new MailboxLimiter(4, { uploadBudget: null });
    for (let i = 0; i < 10; i++) await unpaced.paceUpload('MBX:one@t', 90_000);
    expect(Date.now()).toBe(1_000_000);
  });
});

describe('imports against the simulator’s upload budget', () => {
  let sim: Simulator;
  // The budget scaled down to 2 MB per second per mailbox, in fixed windows (the simulator's model); items are a
  // few percent of it, as mail is of the real budget.
  const budget = { bytes: 2_000_000, windowMs: 1_000 };

  beforeAll(async () => {
    sim = await startSeededSimulator(
      {
        mailboxes: [
          { upn: 'source@contoso.example', items: 60, sizes: [60_000, 60_000] },
          { upn: 'paced@contoso.example', items: 0 },
        ],
      },
      { limits: { uploadBudget: budget } },
    );
  });
  afterAll(() => sim.close());

  it('are never throttled when paced under the budget they are told, and all arrive', async () => {
    // Told three quarters of the budget: pacing can only spread uploads out, so a busy machine makes this easier.
    const { client } = clientFor(sim, { uploadBudget: { bytes: budget.bytes * 0.75, windowMs: budget.windowMs } });
    const { primaryMailboxId } = await client.getMailboxIds('paced@contoso.example');
    const session = await client.createImportSession(primaryMailboxId);
    const inbox = await client.getFolder(primaryMailboxId, 'inbox');
    const items = [...sim.tenant.mailbox('source@contoso.example').items.values()];
    expect(items).toHaveLength(60);
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
    expect(sim.throttle.countersFor(primaryMailboxId)).toMatchObject({ throttled: 0, importedItems: 60 });
  }, 60_000);
});

describe('imports not paced', () => {
  let sim: Simulator;

  beforeAll(async () => {
    // A window far longer than the run can take: whatever the machine's speed, all the bytes land in one window.
    sim = await startSeededSimulator(
      {
        mailboxes: [
          { upn: 'source@contoso.example', items: 20, sizes: [60_000, 60_000] },
          { upn: 'unpaced@contoso.example', items: 0 },
        ],
      },
      { limits: { uploadBudget: { bytes: 500_000, windowMs: 10 * 60_000 } } },
    );
  });
  afterAll(() => sim.close());

  it('run into the budget: Exchange answers 429 once the window’s bytes are spent', async () => {
    const { client } = clientFor(sim, { uploadBudget: null, retry: { maxRetries: 0 } });
    const { primaryMailboxId } = await client.getMailboxIds('unpaced@contoso.example');
    const session = await client.createImportSession(primaryMailboxId);
    const inbox = await client.getFolder(primaryMailboxId, 'inbox');
    const items = [...sim.tenant.mailbox('source@contoso.example').items.values()];
    const outcomes = await Promise.allSettled(
      items.map((item) => {
        const bytes = Buffer.concat([...generatePayload(item.spec, sim.tenant.integrityKey)]);
        return client.importItem(session, {
          folderId: inbox.id,
          length: bytes.length,
          openData: () => Readable.from([bytes]),
        });
      }),
    );
    const counters = sim.throttle.countersFor(primaryMailboxId);
    expect(counters.throttled).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(counters.importedItems);
  }, 60_000);
});
