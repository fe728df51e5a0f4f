/** One import body's bytes as they arrived at the simulator (its clock, ms since epoch). */
export interface Arrival {
  at: number;
  bytes: number;
}

/**
 * The share of an upload budget a run used in its steady state: the bytes arriving in a window of the budget's
 * length, averaged over every such window that lies inside the run (from its first arrival to its last), over
 * the budget. A long restore's rate over the budget's rate, without the one free window at its start: a run of a
 * few windows that spends the first at once and each later one a little late reads as over 100 % by bytes over
 * its span, but as the share it would hold over hours here. Undefined (null) for a run no longer than a window.
 */
export function steadyBudgetShare(arrivals: Arrival[], budget: { bytes: number; windowMs: number }): number | null {
  if (arrivals.length === 0) return null;
  const first = Math.min(...arrivals.map((a) => a.at));
  const lastStart = Math.max(...arrivals.map((a) => a.at)) - budget.windowMs;
  if (lastStart <= first) return null;
  // An arrival at `at` lies in the windows [t, t + window) that start in (at - window, at].
  let byteMs = 0;
  for (const { at, bytes } of arrivals)
    byteMs += bytes * Math.max(0, Math.min(at, lastStart) - Math.max(at - budget.windowMs, first));
  return byteMs / (lastStart - first) / budget.bytes;
}

/** The most bytes that arrived in any window of the budget's length, wherever it starts (at an arrival). */
export function busiestWindowBytes(arrivals: Arrival[], windowMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a.at - b.at);
  let most = 0;
  let sum = 0;
  let first = 0;
  for (const arrival of sorted) {
    sum += arrival.bytes;
    while (arrival.at - sorted[first]!.at >= windowMs) sum -= sorted[first++]!.bytes;
    most = Math.max(most, sum);
  }
  return most;
}
