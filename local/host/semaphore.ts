/** At most `count` callers inside run() at once; the others wait in arrival order. */
export class Semaphore {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(count: number) {
    this.free = count;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiters.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiters.shift();
      if (next) next();
      else this.free++;
    }
  }
}
