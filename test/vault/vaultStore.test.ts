import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { keyOf, layout, snapshotIdFor } from '../../shared/vault/layout.js';
import { VersionConflictError } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

async function* chunks(buffer: Buffer, size: number) {
  for (let i = 0; i < buffer.length; i += size) yield buffer.subarray(i, i + size);
}

describe('vault layout', () => {
  it('turns any Graph id into a safe fixed-length key, and keeps mailbox ids out of names', () => {
    const id = 'MBX:e0643f21-aaaa@a7809c93/+=';
    expect(keyOf(id)).toMatch(/^[0-9a-f]{32}$/);
    expect(layout.itemVersion(id, 'AAMk/+==', 'CQ/+')).not.toMatch(/MBX|[:@+=]/);
    expect(snapshotIdFor('2026-11-23T02:00:00.000Z', 'run-1')).toMatch(/^20261123T020000Z-[0-9a-f]{8}$/);
  });

  it('orders the snapshot ids of runs started within one second as they started, whatever their run ids', () => {
    const startedAt = ['2026-11-23T02:00:00.009Z', '2026-11-23T02:00:00.010Z', '2026-11-23T02:00:00.999Z'];
    for (const runIds of [
      ['run-a', 'run-b', 'run-c'],
      ['run-c', 'run-b', 'run-a'],
    ]) {
      const ids = startedAt.map((time, i) => snapshotIdFor(time, runIds[i]!));
      expect([...ids].sort()).toEqual(ids);
      expect(new Set(ids).size).toBe(3);
    }
    expect(snapshotIdFor('2026-11-23T02:00:00.999Z', 'run-1')).toMatch(/^20261123T020000Z-3e7[0-9a-f]{5}$/);
    expect(
      snapshotIdFor('2026-11-23T02:00:00.999Z', 'run-1') < snapshotIdFor('2026-11-23T02:00:01.000Z', 'run-2'),
    ).toBe(true);
  });
});

describe('item versions', () => {
  it('streams bytes into a write-once blob with SHA-256 and size in metadata', async () => {
    const { vault } = await freshVault();
    const bytes = randomBytes(3 * 1024 * 1024 + 123);
    const stored = await vault.writeItemVersion('mailboxes/m/items/i/v', chunks(bytes, 65_536));
    expect(stored).toMatchObject({
      sha256: createHash('sha256').update(bytes).digest('hex'),
      length: bytes.length,
      written: true,
    });
    expect(await vault.getItemVersion('mailboxes/m/items/i/v')).toEqual({
      sha256: stored.sha256,
      length: bytes.length,
    });
    const back: Buffer[] = [];
    for await (const chunk of await vault.openItemVersion('mailboxes/m/items/i/v')) back.push(chunk as Buffer);
    expect(Buffer.concat(back).equals(bytes)).toBe(true);
  });

  it('treats a second write of the same bytes as already stored, and different bytes as a conflict', async () => {
    const { vault } = await freshVault();
    const bytes = randomBytes(1000);
    await vault.writeItemVersion('v1', chunks(bytes, 100));
    expect(await vault.writeItemVersion('v1', chunks(bytes, 333))).toMatchObject({ written: false });
    await expect(vault.writeItemVersion('v1', chunks(randomBytes(1000), 100))).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    // An item handed over whole is written, and checked against what is stored, the same way.
    expect(await vault.writeItemVersion('v1', bytes)).toMatchObject({
      written: false,
      length: 1000,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    await expect(vault.writeItemVersion('v1', randomBytes(1000))).rejects.toBeInstanceOf(VersionConflictError);
    const whole = await vault.writeItemVersion('v2', bytes);
    expect(whole).toMatchObject({ written: true, length: 1000 });
    expect(await vault.writeItemVersion('v2', chunks(bytes, 7))).toMatchObject({
      written: false,
      sha256: whole.sha256,
    });
  });

  it('stores an empty item', async () => {
    const { vault } = await freshVault();
    expect(await vault.writeItemVersion('empty', chunks(Buffer.alloc(0), 1))).toMatchObject({
      length: 0,
      written: true,
    });
  });
});

describe('records', () => {
  it('round-trips gzip NDJSON with unicode across chunk boundaries', async () => {
    const { vault } = await freshVault();
    const records = Array.from({ length: 5000 }, (_, i) => ({ i, subject: `Отчёт 会議 📎 ${i}`.repeat(3) }));
    const { count, sha256 } = await vault.writeNdjsonGz('m.ndjson.gz', Readable.from(records));
    expect(count).toBe(5000);
    // The hash returned (kept in the snapshot record, checked by verify) is the stored bytes' own.
    const stored: Buffer[] = [];
    for await (const part of await vault.openItemVersion('m.ndjson.gz')) stored.push(part as Buffer);
    expect(Buffer.concat(stored).length).toBeGreaterThan(0);
    expect(createHash('sha256').update(Buffer.concat(stored)).digest('hex')).toBe(sha256);
    const back = [];
    for await (const record of vault.readNdjsonGz('m.ndjson.gz')) back.push(record);
    expect(back).toEqual(records);
    expect([
      ...(await (async () => {
        const r = [];
        for await (const x of vault.readNdjsonGz('absent', { missingOk: true })) r.push(x);
        return r;
      })()),
    ]).toEqual([]);
  });

  it('resumes a gzip NDJSON stream at any record, without an index (skipRecords)', async () => {
    const { vault } = await freshVault();
    // Long enough to span several gunzip chunks, so records skipped and records read meet inside a chunk.
    const records = Array.from({ length: 3000 }, (_, i) => ({ i, subject: `Отчёт ${i} `.repeat(i % 7) }));
    await vault.writeNdjsonGz('s.ndjson.gz', records);
    for (const skip of [0, 1, 1499, 2999, 3000, 4000]) {
      const back: unknown[] = [];
      for await (const record of vault.readNdjsonGz('s.ndjson.gz', { skipRecords: skip })) back.push(record);
      expect(back).toEqual(records.slice(skip));
    }
    // Blank lines are no records; a last record without its newline is one.
    const gz = gzipSync(Buffer.from('{"i":0}\n\n{"i":1}\n{"i":2}'));
    await vault.container.getBlockBlobClient('no-final-newline.ndjson.gz').uploadData(gz);
    const tail: unknown[] = [];
    for await (const record of vault.readNdjsonGz('no-final-newline.ndjson.gz', { skipRecords: 2 })) tail.push(record);
    expect(tail).toEqual([{ i: 2 }]);
  });

  it('writes JSON only if absent when asked (the commit record)', async () => {
    const { vault } = await freshVault();
    expect(await vault.writeJson('r.json', { a: 1 }, { onlyIfAbsent: true })).toBe(true);
    expect(await vault.writeJson('r.json', { a: 2 }, { onlyIfAbsent: true })).toBe(false);
    expect(await vault.readJson('r.json')).toEqual({ a: 1 });
    expect(await vault.readJson('nope.json')).toBeUndefined();
  });
});
