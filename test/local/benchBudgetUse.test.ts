import { describe, expect, it } from 'vitest';
import { busiestWindowBytes, steadyBudgetShare, type Arrival } from '../bench/budgetUse.js';

const BUDGET = { bytes: 1_000, windowMs: 1_000 };

/** A whole budget at once every `periodMs`, `bursts` times, starting at 0. */
const bursts = (count: number, periodMs: number): Arrival[] =>
  Array.from({ length: count }, (_, i) => ({ at: i * periodMs, bytes: BUDGET.bytes }));

describe("the bench's share of an upload budget", () => {
  it('reads a steady pace as its rate over the budget', () => {
    // 800 bytes a second, 10 bytes every 12.5 ms, for 5 s.
    const paced = Array.from({ length: 400 }, (_, i) => ({ at: i * 12.5, bytes: 10 }));
    expect(steadyBudgetShare(paced, BUDGET)).toBeCloseTo(0.8, 2);
  });

  it('reads a budget spent at once every window and a quarter as about 80 %, not its first free window', () => {
    // Bytes over the span would say 6,000 bytes in 6.25 s = 96 % of the rate. Of the windows inside the run
    // (starting from 0 to 5.25 s) those starting in the 250 ms after each burst hold none: 4 s of 5.25 s hold
    // a budget, the long run's 80 % less one gap (the share leans low, by a gap over the run's length).
    const arrivals = bursts(6, 1_250);
    expect(steadyBudgetShare(arrivals, BUDGET)).toBeCloseTo(4 / 5.25, 6);
    expect(busiestWindowBytes(arrivals, BUDGET.windowMs)).toBe(1_000);
  });

  it('says nothing of a run no longer than a window', () => {
    expect(steadyBudgetShare([], BUDGET)).toBeNull();
    expect(steadyBudgetShare(bursts(2, 1_000), BUDGET)).toBeNull();
  });

  it('finds the busiest window wherever it starts, in any order of arrival', () => {
    const arrivals = [
      { at: 1_500, bytes: 300 },
      { at: 0, bytes: 400 },
      { at: 900, bytes: 500 },
      { at: 1_899, bytes: 100 },
    ];
    expect(busiestWindowBytes(arrivals, BUDGET.windowMs)).toBe(900);
  });
});
