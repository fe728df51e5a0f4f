/**
 * Maps a stream with up to `concurrency` calls in flight, results in the source's order: a stream of lookups
 * runs at the pace of the store, not of one round trip per record, and holds only `concurrency` of them.
 */
export async function* windowedMap<T, U>(
  source: AsyncIterable<T> | Iterable<T>,
  concurrency: number,
  map: (record: T) => Promise<U>,
): AsyncGenerator<U> {
  const pending: Array<Promise<U>> = [];
  for await (const record of source) {
    const mapped = map(record);
    mapped.catch(() => undefined); // awaited in turn below; a rejection ahead of its turn is not unhandled
    pending.push(mapped);
    if (pending.length >= concurrency) yield await pending.shift()!;
  }
  while (pending.length > 0) yield await pending.shift()!;
}
