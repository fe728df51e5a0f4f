import { describe, expect, it, vi } from 'vitest';
import { packBySize, packBySizeStream } from '../../shared/packing.js';
import {
  IndexedNdjsonReader,
  writeIndexedNdjson,
  writeIndexedNdjsonStream,
  type IndexedNdjsonFile,
} from '../../shared/vault/indexedNdjson.js';
import { freshVault } from '../support/vault.js';

const file: IndexedNdjsonFile = {
  data: 'runs/r/plan.ndjson',
  index: 'runs/r/plan-index.json',
  description: 'the plan of run r',
};
const records = [
  { batch: 0, items: ['a'] },
  { batch: 1, items: ['b', 'ü/€'] },
  { batch: 2, items: [] },
];

describe('indexed NDJSON files', () => {
  it('reads any run of consecutive records back, multi-byte text included', async () => {
    const { vault } = await freshVault();
    await writeIndexedNdjson(vault, file, records, 'v1');
    const reader = new IndexedNdjsonReader(vault);
    expect(await reader.read(file, 1, 2, 'v1')).toEqual(records.slice(1));
    expect(await reader.read(file, 0, 1)).toEqual(records.slice(0, 1));
    await expect(reader.read(file, 2, 2, 'v1')).rejects.toThrow(/Records 2–3 are not in the plan of run r/);
  });

  it('refuses to read a rewritten file through the version a caller planned with', async () => {
    const { vault } = await freshVault();
    await writeIndexedNdjson(vault, file, records, 'v1');
    await writeIndexedNdjson(vault, file, records.slice(0, 1), 'v2');
    await expect(new IndexedNdjsonReader(vault).read(file, 0, 1, 'v1')).rejects.toThrow(
      /The plan of run r was replaced \(version v2, expected v1\)/,
    );
  });

  it('reads a plan index written before the upgrade, whose version field was called planVersion', async () => {
    const { vault } = await freshVault();
    await writeIndexedNdjson(vault, file, records, 'ignored');
    const offsets = [0];
    for (const record of records) offsets.push(offsets.at(-1)! + Buffer.byteLength(`${JSON.stringify(record)}\n`));
    await vault.writeJson(file.index, { planVersion: 'old-run', offsets });
    expect(await new IndexedNdjsonReader(vault).read(file, 0, 3, 'old-run')).toEqual(records);
  });

  it('reads records in order with the index read once and neighbours read together, up to a size a read', async () => {
    const { vault } = await freshVault();
    const many = Array.from({ length: 10 }, (_, batch) => ({ batch, items: ['x'.repeat(batch * 10)] }));
    await writeIndexedNdjson(vault, file, many);
    const readJson = vi.spyOn(vault, 'readJson');
    const readRange = vi.spyOn(vault, 'readRange');
    const reader = new IndexedNdjsonReader(vault);
    const read = [];
    for await (const record of reader.readInOrder(file, 2, 7, { bytesPerRead: 200 })) read.push(record);
    expect(read).toEqual(many.slice(2, 9));
    expect(readJson).toHaveBeenCalledTimes(1);
    const lengths = readRange.mock.calls.map(([, , count]) => count);
    expect(lengths.length).toBeLessThan(7);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(200);
    for await (const record of reader.readInOrder(file, 0, 0)) read.push(record);
    expect(readJson).toHaveBeenCalledTimes(1);
    await expect(reader.readInOrder(file, 8, 3).next()).rejects.toThrow(/Records 8–10 are not in the plan of run r/);
  });

  it('is written from a stream of batches, packed as they fill, the same as from an array', async () => {
    const { vault } = await freshVault();
    const sizes = Array.from({ length: 2_000 }, (_, n) => (n * 7919) % 500);
    async function* listed() {
      yield* sizes;
    }
    async function* batches() {
      let batch = 0;
      for await (const items of packBySizeStream(listed(), 20, 1_000, (size) => size)) yield { batch: batch++, items };
    }
    const count = await writeIndexedNdjsonStream(vault, file, batches(), 'v3');
    const expected = packBySize(sizes, 20, 1_000, (size) => size).map((items, batch) => ({ batch, items }));
    expect(count).toBe(expected.length);
    expect(await new IndexedNdjsonReader(vault).read(file, 0, count, 'v3')).toEqual(expected);
    expect(await new IndexedNdjsonReader(vault).read(file, count - 2, 2, 'v3')).toEqual(expected.slice(-2));
  });
});
