/** An async iterator that reads ahead of its consumer; `close` ends the source early (its `finally` blocks run). */
export interface ReadAhead<T> extends AsyncIterableIterator<T> {
  close(): Promise<void>;
}

/**
 * Starts reading `source` at once and keeps up to `capacity` values ready, so that work waiting on I/O (a page
 * of a listing) overlaps whatever the consumer does first. Memory stays bounded by `capacity` values. A failure
 * of the source is kept and thrown to the consumer when it reaches that point, in order, never as an unhandled
 * rejection. One consumer.
 */
export function readAhead<T>(source: AsyncIterable<T>, capacity: number): ReadAhead<T> {
  if (!(capacity >= 1)) throw new RangeError(`readAhead capacity must be at least 1, not ${capacity}`);
  const iterator = source[Symbol.asyncIterator]();
  const ready: T[] = [];
  let ended = false;
  let closed = false;
  let failure: { error: unknown } | undefined;
  let reading = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };

  const fill = (): void => {
    if (reading || ended || closed || failure) return;
    reading = true;
    void (async () => {
      try {
        while (ready.length < capacity && !closed) {
          const next = await iterator.next();
          if (closed) break; // a value read while closing is dropped
          if (next.done) {
            ended = true;
            break;
          }
          ready.push(next.value);
          notify();
        }
      } catch (error) {
        failure = { error };
      } finally {
        reading = false;
        notify();
      }
    })();
  };

  const self: ReadAhead<T> = {
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (closed) return { value: undefined, done: true };
        if (ready.length > 0) {
          const value = ready.shift()!;
          fill();
          return { value, done: false };
        }
        if (failure) {
          const { error } = failure;
          ended = true;
          failure = undefined;
          throw error;
        }
        if (ended) return { value: undefined, done: true };
        fill();
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async return(): Promise<IteratorResult<T>> {
      await self.close();
      return { value: undefined, done: true };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      ready.length = 0;
      notify();
      // An async generator queues this behind a read in progress, then runs its finally blocks.
      await iterator.return?.();
    },
    [Symbol.asyncIterator]() {
      return self;
    },
  };
  fill();
  return self;
}
