import { describe, expect, it } from 'vitest';
import { closeIn, reserveIn, trimIn, type UploadLedger } from '../../shared/vault/uploadLedger.js';

/** The ledger's rules on their own: what a reservation is granted, when a refused one may ask again. */
const BUDGET = 1_000;
const ask = (id: string, want: number, need: number, now: number) => ({
  id,
  want,
  need,
  budgetBytes: BUDGET,
  now,
  countsUntil: now + 100_000,
});

describe('the upload ledger', () => {
  it('grants a chunk while the bytes that count fit the budget, then what is left if it covers the upload', () => {
    let ledger: UploadLedger | null = null;
    const first = reserveIn(ledger, ask('a', 600, 100, 0));
    expect(first.answer).toEqual({ granted: 600 });
    ledger = first.next!;
    const second = reserveIn(ledger, ask('b', 600, 300, 0));
    expect(second.answer).toEqual({ granted: 400 });
    ledger = second.next!;
    expect(reserveIn(ledger, ask('c', 600, 1, 0)).next).toBeUndefined();
  });

  it("frees a chunk's unused bytes at once when trimmed, while what its uploads took counts on, open", () => {
    let ledger = reserveIn(null, ask('a', 800, 300, 0)).next!;
    expect(reserveIn(ledger, ask('b', 600, 500, 10)).answer).toEqual({ retryAt: 110 });
    ledger = trimIn(ledger, { id: 'a', used: 450, now: 10 }).next;
    expect(ledger.entries).toEqual([{ id: 'a', bytes: 450, countsUntil: 100_000, open: true }]);
    expect(reserveIn(ledger, ask('b', 600, 500, 10)).answer).toEqual({ granted: 550 });
    // A trim never grows an entry, nor touches a settled one.
    const settled = closeIn(ledger, { id: 'a', used: 450, countsUntil: 5_000, now: 20 }).next;
    expect(trimIn(settled, { id: 'a', used: 10, now: 30 }).next).toEqual(settled);
    expect(trimIn(ledger, { id: 'a', used: 900, now: 30 }).next).toEqual(ledger);
  });

  it('frees unused bytes at once when settled, and used ones a window after the last upload ended', () => {
    let ledger = reserveIn(null, ask('a', 1_000, 100, 0)).next!;
    ledger = closeIn(ledger, { id: 'a', used: 300, countsUntil: 5_000, now: 10 }).next;
    expect(ledger.entries).toEqual([{ id: 'a', bytes: 300, countsUntil: 5_000 }]);
    expect(reserveIn(ledger, ask('b', 1_000, 800, 20)).answer).toEqual({ retryAt: 5_000 });
    expect(reserveIn(ledger, ask('b', 1_000, 700, 20)).answer).toEqual({ granted: 700 });
    // Once the window after the last upload has passed, the entry no longer counts and is dropped.
    const later = reserveIn(ledger, ask('c', 1_000, 100, 5_000));
    expect(later.answer).toEqual({ granted: 1_000 });
    expect(later.next!.entries.map((e) => e.id)).toEqual(['c']);
  });

  it('asks again soon when open entries hold the bytes, and an open entry of a crashed holder lapses alone', () => {
    const ledger = reserveIn(null, ask('crashed', 1_000, 1_000, 0)).next!;
    expect(reserveIn(ledger, ask('b', 100, 100, 0)).answer).toEqual({ retryAt: 100 });
    expect(reserveIn(ledger, ask('b', 100, 100, 99_999)).answer).toEqual({ retryAt: 100_000 });
    expect(reserveIn(ledger, ask('b', 100, 100, 100_000)).answer).toEqual({ granted: 100 });
  });

  it('grants an upload larger than the whole budget only once nothing else counts', () => {
    const ledger = closeIn(null, { id: 'a', used: 10, countsUntil: 50, now: 0 }).next;
    expect(reserveIn(ledger, ask('big', 2_000, 2_000, 0)).answer).toEqual({ retryAt: 50 });
    expect(reserveIn(ledger, ask('big', 2_000, 2_000, 50)).answer).toEqual({ granted: 2_000 });
  });

  it('reads anything else in the blob as an empty ledger', () => {
    const odd = { something: 'else' } as unknown as UploadLedger;
    expect(reserveIn(odd, ask('a', 100, 100, 0)).answer).toEqual({ granted: 100 });
  });
});
