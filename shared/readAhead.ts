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
  const reader = new ReadAheadReader(source[Symbol.asyncIterator](), capacity);
  reader.fill();
  return reader;
}

/** The reader's state is shared by the consumer's calls and the one read loop filling `ready` behind them. */
class ReadAheadReader<T> implements ReadAhead<T> {
  private readonly ready: T[] = [];
  private ended = false;
  private closed = false;
  private failure: { error: unknown } | undefined;
  private reading = false;
  /** Resolves the consumer's wait for a value, an end or a failure. */
  private wake: (() => void) | undefined;

  constructor(
    private readonly iterator: AsyncIterator<T>,
    private readonly capacity: number,
  ) {}

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.closed) return { value: undefined, done: true };
      if (this.ready.length > 0) {
        const value = this.ready.shift()!;
        this.fill();
        return { value, done: false };
      }
      if (this.failure) {
        const { error } = this.failure;
        this.ended = true;
        this.failure = undefined;
        throw error;
      }
      if (this.ended) return { value: undefined, done: true };
      this.fill();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async return(): Promise<IteratorResult<T>> {
    await this.close();
    return { value: undefined, done: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ready.length = 0;
    this.notify();
    // An async generator queues this behind a read in progress, then runs its finally blocks.
    await this.iterator.return?.();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Starts the read loop unless it is running or has nothing left to do. */
  fill(): void {
    if (this.reading || this.ended || this.closed || this.failure) return;
    this.reading = true;
    void this.readUntilFull();
  }

  /** Never rejects: a failure of the source is kept for `next` to throw in order. */
  private async readUntilFull(): Promise<void> {
    try {
      while (this.ready.length < this.capacity && !this.closed) {
        const next = await this.iterator.next();
        if (this.closed) break; // a value read while closing is dropped
        if (next.done) {
          this.ended = true;
          break;
        }
        this.ready.push(next.value);
        this.notify();
      }
    } catch (error) {
      this.failure = { error };
    } finally {
      this.reading = false;
      this.notify();
    }
  }

  private notify(): void {
    const waiting = this.wake;
    this.wake = undefined;
    waiting?.();
  }
}
