import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, defaultRetryOptions, parseRetryAfter } from '../../shared/graph/retry.js';
import { MailboxLimiter } from '../../shared/graph/mailboxLimiter.js';

afterEach(() => vi.useRealTimers());

describe('Retry-After', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('5')).toBe(5000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
  });
  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2026-11-23T10:00:00Z');
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });
  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('backoff', () => {
  it('grows exponentially, stays within [d/2, d] and under the cap', () => {
    const options = { ...defaultRetryOptions, baseDelayInMs: 100, maxDelayInMs: 1000 };
    expect(backoffDelay(1, options, () => 0)).toBe(50);
    expect(backoffDelay(1, options, () => 1)).toBe(100);
    expect(backoffDelay(3, options, () => 1)).toBe(400);
    expect(backoffDelay(20, options, () => 1)).toBe(1000);
  });
});

describe('MailboxLimiter', () => {
  it('never admits more than the limit per mailbox, and mailboxes do not share it', async () => {
    const limiter = new MailboxLimiter(4);
    const held = await Promise.all(Array.from({ length: 4 }, () => limiter.acquire('a')));
    let fifth = false;
    const waiting = limiter.acquire('a').then((p) => {
      fifth = true;
      return p;
    });
    const other = await limiter.acquire('b');
    await new Promise((r) => setTimeout(r, 20));
    expect(fifth).toBe(false);
    held[0]!.release();
    (await waiting).release();
    expect(fifth).toBe(true);
    expect(limiter.stats('a').maxInFlight).toBe(4);
    other.release();
  });

  it('refuses a limit below one and clamps one above four to four', async () => {
    expect(() => new MailboxLimiter(0)).toThrow(RangeError);
    const limiter = new MailboxLimiter(9);
    const held = await Promise.all(Array.from({ length: 4 }, () => limiter.acquire('m')));
    const abort = new AbortController();
    const fifth = limiter.acquire('m', abort.signal);
    setTimeout(() => abort.abort(new Error('still waiting')), 30);
    await expect(fifth).rejects.toThrow('still waiting');
    held.forEach((p) => p.release());
  });

  it('pauses the whole mailbox after a 429 and counts the wait', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const limiter = new MailboxLimiter(4);
    limiter.onThrottled('a', 60);
    const granted: number[] = [];
    const slot = limiter.acquire('a').then((permit) => (granted.push(Date.now()), permit));
    await vi.advanceTimersByTimeAsync(59);
    expect(granted).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    (await slot).release();
    expect(granted).toEqual([1_000_060]);
    expect(limiter.stats('a').throttledResponses).toBe(1);
    expect(limiter.stats('a').throttleWaitInMs).toBe(60);
  });

  it('paces uploads just under the byte budget: each starts when the ones before it are paid for', async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    // 100 kB per second, paced at 95 %: 9,500 bytes take 100 ms of budget.
    const limiter = new MailboxLimiter(4, { uploadBudget: { bytes: 100_000, windowMs: 1_000 } });
    const startedAt: number[] = [];
    const all = Promise.all(
      [0, 1, 2].map(async () => {
        await limiter.paceUpload('a', 9_500);
        startedAt.push(Date.now() - 1_000_000);
      }),
    );
    await vi.runAllTimersAsync();
    await all;
    expect(startedAt).toEqual([0, 100, 200]);
    // Another mailbox has a budget of its own; without a budget nothing waits.
    await limiter.paceUpload('b', 9_500);
    await new MailboxLimiter(4, { uploadBudget: null }).paceUpload('a', 10_000_000);
    expect(Date.now() - 1_000_000).toBe(200);
    expect(() => new MailboxLimiter(4, { uploadBudget: { bytes: 0, windowMs: 1_000 } })).toThrow(RangeError);
  });
});
