import { describe, expect, it } from 'vitest';
import { IndexedNdjsonReader, writeIndexedNdjson, type IndexedNdjsonFile } from '../../shared/vault/indexedNdjson.js';
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
});
