/** Consecutive batches of at most `maxItems` and `maxBytes` (by `sizeOf`); an item over the budget goes alone. */
export function packBySize<T>(items: T[], maxItems: number, maxBytes: number, sizeOf: (item: T) => number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length > 0 && (current.length >= maxItems || bytes + sizeOf(item) > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += sizeOf(item);
  }
  if (current.length) batches.push(current);
  return batches;
}

/** The same batches from a stream, each handed on as it fills: memory is one batch. */
export async function* packBySizeStream<T>(
  items: AsyncIterable<T>,
  maxItems: number,
  maxBytes: number,
  sizeOf: (item: T) => number,
): AsyncGenerator<T[]> {
  let current: T[] = [];
  let bytes = 0;
  for await (const item of items) {
    if (current.length > 0 && (current.length >= maxItems || bytes + sizeOf(item) > maxBytes)) {
      yield current;
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += sizeOf(item);
  }
  if (current.length) yield current;
}
