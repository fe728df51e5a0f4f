import { describe, expect, it } from 'vitest';
import { readAhead } from '../../shared/readAhead.js';

/** A source that records how far it has been read and can be made to fail at a given value. */
function source(count: number, options: { failAt?: number } = {}) {
  const state = { produced: 0, finished: false };
  async function* values(): AsyncGenerator<number> {
    try {
      for (let i = 0; i < count; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        if (i === options.failAt) throw new Error(`failed at ${i}`);
        state.produced++;
        yield i;
      }
    } finally {
      state.finished = true;
    }
  }
  return { values: values(), state };
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('readAhead', () => {
  it('reads ahead of its consumer, no further than its capacity, and hands every value over in order', async () => {
    const { values, state } = source(10);
    const ahead = readAhead(values, 3);
    await settle();
    expect(state.produced).toBe(3); // read before anyone asked, and stopped at the capacity
    const seen: number[] = [];
    for await (const value of ahead) {
      seen.push(value);
      await settle();
      expect(state.produced - seen.length).toBeLessThanOrEqual(3);
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(state.finished).toBe(true);
  });

  it('throws the source’s failure where it happened, after the values before it, and not as an unhandled rejection', async () => {
    const { values } = source(10, { failAt: 4 });
    const ahead = readAhead(values, 8);
    await settle(); // the failure has happened by now, with no one reading yet
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const value of ahead) seen.push(value);
      })(),
    ).rejects.toThrow('failed at 4');
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(await ahead.next()).toEqual({ value: undefined, done: true });
  });

  it('ends the source when closed early, running its finally blocks, and reads no more', async () => {
    const { values, state } = source(100);
    const ahead = readAhead(values, 2);
    expect((await ahead.next()).value).toBe(0);
    await ahead.close();
    expect(state.finished).toBe(true);
    const produced = state.produced;
    await settle();
    expect(state.produced).toBe(produced);
    expect(await ahead.next()).toEqual({ value: undefined, done: true });
  });

  it('ends the source when the consumer breaks out of its loop', async () => {
    const { values, state } = source(100);
    for await (const value of readAhead(values, 4)) if (value === 1) break;
    expect(state.finished).toBe(true);
  });

  it('refuses a capacity below one', () => {
    expect(() => readAhead(source(1).values, 0)).toThrow(/capacity/);
  });
});
