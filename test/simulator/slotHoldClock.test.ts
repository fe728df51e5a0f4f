import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SeededRandom } from '../../local/simulator/random.js';
import { EXCHANGE_LIMITS, NO_FAULTS, ThrottleState, type Admission } from '../../local/simulator/throttle.js';

/**
 * A slot Exchange holds a moment after its answer is free from that instant on, whether or not the simulator's
 * timer has run yet: on a busy machine the timer fired late, and a client that had waited long enough met a 429.
 * Fake timers here run only when advanced, so the clock the admission reads frees the slot. (The wiring, each
 * answer passing its hold to `release`, has no test of its own: test/graph/slotHold.test.ts passes with a timer.)
 */
describe("the simulator's concurrency slot held after an answer", () => {
  const mailbox = 'MBX:held';
  let throttle: ThrottleState;
  beforeEach(() => {
    vi.useFakeTimers();
    throttle = new ThrottleState(EXCHANGE_LIMITS, NO_FAULTS, new SeededRandom(1));
  });
  afterEach(() => vi.useRealTimers());

  const admitted = (now: number) => {
    const admission = throttle.admit(mailbox, 'getFolder', now);
    if (!admission.ok) throw new Error(`refused at ${now}: ${admission.message}`);
    return admission;
  };
  const fourInFlight = (now: number) => Array.from({ length: 4 }, () => admitted(now));

  it('is taken until its instant, and free at it without any timer running', () => {
    const [first] = fourInFlight(1_000) as [Extract<Admission, { ok: true }>];
    first.release(5, 1_010);
    expect(throttle.admit(mailbox, 'getFolder', 1_014).ok).toBe(false);
    expect(throttle.admit(mailbox, 'getFolder', 1_015).ok).toBe(true);
    expect(throttle.countersFor(mailbox).inFlight).toBe(4);
  });

  it('is freed once only, by the admission or by its timer', () => {
    const [first] = fourInFlight(1_000) as [Extract<Admission, { ok: true }>];
    first.release(5, Date.now());
    first.release(5, Date.now());
    admitted(Date.now() + 5);
    vi.advanceTimersByTime(5);
    expect(throttle.countersFor(mailbox).inFlight).toBe(4);
  });

  it('frees at once when nothing is held', () => {
    const [first] = fourInFlight(1_000) as [Extract<Admission, { ok: true }>];
    first.release();
    expect(throttle.countersFor(mailbox).inFlight).toBe(3);
  });

  it('counts against the counters in use after a reset', () => {
    const [first, second] = fourInFlight(1_000) as Array<Extract<Admission, { ok: true }>>;
    throttle.resetCounters();
    first!.release();
    second!.release(5, 1_010);
    admitted(1_015);
    expect(throttle.countersFor(mailbox).inFlight).toBe(3);
  });
});
