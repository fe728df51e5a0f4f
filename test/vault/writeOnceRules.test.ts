import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { BlobServiceClient, RestError, type BlobClient } from '@azure/storage-blob';
import { VaultStore, VersionConflictError } from '../../shared/vault/vaultStore.js';
import { azuriteConnectionString } from '../support/vault.js';

/**
 * The vault's write-once rules, on Azurite directly (quick enough for mutation testing): an item version is
 * written once and a retry must bring the same bytes, whatever the path (one request, or blocks); JSON written
 * "only if absent" never overwrites; deletes tell a WORM blob from a missing one. Blocks are 1 KiB here, so
 * the block path runs on a few KiB.
 */

const BLOCK = 1024;
let vault: VaultStore;

beforeEach(async () => {
  const service = BlobServiceClient.fromConnectionString(azuriteConnectionString());
  vault = new VaultStore(service, `wonce-${randomBytes(6).toString('hex')}`, {
    blockSizeInBytes: BLOCK,
    blockConcurrency: 2,
  });
  await vault.ensureContainer();
});

afterEach(() => {
  vi.restoreAllMocks();
});

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function* pieces(bytes: Buffer, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function bytesOf(name: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of await vault.openItemVersion(name)) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function contentTypeOf(name: string): Promise<string | undefined> {
  return (await vault.container.getBlobClient(name).getProperties()).contentType;
}

describe('an item version', () => {
  it('of exactly one block is one request; one byte more is staged as blocks; both read back whole', async () => {
    for (const size of [BLOCK, BLOCK + 1, 3 * BLOCK, 12 * BLOCK + 5]) {
      const bytes = randomBytes(size);
      const stored = await vault.writeItemVersion(`whole-${size}`, bytes);
      expect(stored).toEqual({ blobName: `whole-${size}`, sha256: sha(bytes), length: size, written: true });
      expect(await bytesOf(`whole-${size}`)).toEqual(bytes);
      expect(await vault.getItemVersion(`whole-${size}`)).toEqual({ sha256: sha(bytes), length: size });
      expect(await contentTypeOf(`whole-${size}`)).toBe('application/octet-stream');
    }
  });

  it('streamed in pieces that straddle blocks keeps every byte in order (more than ten blocks)', async () => {
    const bytes = randomBytes(11 * BLOCK + 300);
    for (const size of [1, 333, BLOCK, 2 * BLOCK + 7]) {
      const name = `pieces-${size}`;
      expect(await vault.writeItemVersion(name, pieces(bytes, size))).toEqual({
        blobName: name,
        sha256: sha(bytes),
        length: bytes.length,
        written: true,
      });
      expect(await bytesOf(name)).toEqual(bytes);
      expect(await vault.getItemVersion(name)).toEqual({ sha256: sha(bytes), length: bytes.length });
      expect(await contentTypeOf(name)).toBe('application/octet-stream');
    }
  });

  it('streamed but short of a block is written with one request, its hash recorded', async () => {
    const bytes = randomBytes(BLOCK - 10);
    const putBlock = vi.spyOn(vault.container, 'getBlockBlobClient');
    expect(await vault.writeItemVersion('short', pieces(bytes, 100))).toMatchObject({ written: true });
    expect(putBlock).not.toHaveBeenCalled();
    expect(await vault.getItemVersion('short')).toEqual({ sha256: sha(bytes), length: bytes.length });
    expect(await contentTypeOf('short')).toBe('application/octet-stream');
  });

  it('written twice by blocks with the same bytes is already stored; different bytes are a conflict', async () => {
    const bytes = randomBytes(4 * BLOCK + 1);
    await vault.writeItemVersion('v', pieces(bytes, 500));
    expect(await vault.writeItemVersion('v', pieces(bytes, 700))).toEqual({
      blobName: 'v',
      sha256: sha(bytes),
      length: bytes.length,
      written: false,
    });
    const other = Buffer.from(bytes);
    other[2 * BLOCK] = other[2 * BLOCK]! ^ 1;
    await expect(vault.writeItemVersion('v', pieces(other, 500))).rejects.toBeInstanceOf(VersionConflictError);
    await expect(vault.writeItemVersion('v', other)).rejects.toThrow(/already holds different bytes for v/);
    expect(await bytesOf('v')).toEqual(bytes);
  });

  it('written whole over a version of the same bytes is already stored, with its length', async () => {
    const bytes = randomBytes(200);
    await vault.writeItemVersion('w', bytes);
    expect(await vault.writeItemVersion('w', bytes)).toEqual({
      blobName: 'w',
      sha256: sha(bytes),
      length: 200,
      written: false,
    });
  });

  it('over a blob without a recorded hash (not a version) is a conflict, never a match', async () => {
    await vault.writeText('plain', 'not a version');
    expect(await vault.getItemVersion('plain')).toEqual({ sha256: '', length: 'not a version'.length });
    await expect(vault.writeItemVersion('plain', Buffer.from('not a version'))).rejects.toBeInstanceOf(
      VersionConflictError,
    );
    await expect(vault.writeItemVersion('plain', pieces(randomBytes(3 * BLOCK), 512))).rejects.toBeInstanceOf(
      VersionConflictError,
    );
  });

  it('refused before its hash was final (a lease on the blob) is a conflict, even over empty recorded hashes', async () => {
    // A blob with no recorded hash, leased by someone else: staging a block is refused (412), found out as the
    // last block is staged, before the hash is final; a write whose hash is not known must not pass for it.
    await vault.writeText('leased', '');
    await vault.container.getBlobClient('leased').getBlobLeaseClient().acquireLease(-1);
    await expect(vault.writeItemVersion('leased', pieces(randomBytes(BLOCK + 10), BLOCK))).rejects.toBeInstanceOf(
      VersionConflictError,
    );
  });

  it('passes on a failure that is not "already there"', async () => {
    const missing = new VaultStore(
      BlobServiceClient.fromConnectionString(azuriteConnectionString()),
      `absent-${randomBytes(6).toString('hex')}`,
      { blockSizeInBytes: BLOCK },
    );
    await expect(missing.writeItemVersion('x', randomBytes(10))).rejects.toMatchObject({ statusCode: 404 });
    await expect(missing.writeItemVersion('x', pieces(randomBytes(3 * BLOCK), 100))).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('that is not stored reads as undefined', async () => {
    expect(await vault.getItemVersion('nothing')).toBeUndefined();
  });

  it('answers its single-request limit: the block size', () => {
    expect(vault.singleRequestLimit).toBe(BLOCK);
  });
});

describe('JSON and text records', () => {
  it('overwrite by default, and "only if absent" never does', async () => {
    expect(await vault.writeJson('r.json', { a: 1 })).toBe(true);
    expect(await vault.writeJson('r.json', { a: 2 })).toBe(true);
    expect(await vault.readJson('r.json')).toEqual({ a: 2 });
    expect(await vault.writeJson('r.json', { a: 3 }, { onlyIfAbsent: true })).toBe(false);
    expect(await vault.readJson('r.json')).toEqual({ a: 2 });
    expect(await contentTypeOf('r.json')).toBe('application/json');
    expect((await vault.readRange('r.json', 0, 100)).toString()).toBe(JSON.stringify({ a: 2 }, null, 1));
  });

  it('pass on a failure that is not "already there", even only if absent', async () => {
    const missing = new VaultStore(
      BlobServiceClient.fromConnectionString(azuriteConnectionString()),
      `absent-${randomBytes(6).toString('hex')}`,
    );
    await expect(missing.writeJson('r.json', {}, { onlyIfAbsent: true })).rejects.toMatchObject({ statusCode: 404 });
    await expect(missing.writeJson('r.json', {})).rejects.toMatchObject({ statusCode: 404 });
  });

  it('text is overwritten, typed as NDJSON unless told, and read by range', async () => {
    await vault.writeText('t', 'first line');
    await vault.writeText('t', '0123456789');
    expect(await contentTypeOf('t')).toBe('application/x-ndjson');
    expect((await vault.readRange('t', 3, 4)).toString()).toBe('3456');
    await vault.writeText('c', 'a,b', 'text/csv');
    expect(await contentTypeOf('c')).toBe('text/csv');
    await expect(vault.readRange('absent', 0, 1)).rejects.toMatchObject({ statusCode: 404, code: 'BlobNotFound' });
  });
});

describe('deleting', () => {
  function deleteFails(statusCode: number, code: string) {
    const blob = { delete: () => Promise.reject(new RestError(code, { statusCode, code })) } as unknown as BlobClient;
    vi.spyOn(vault.container, 'getBlobClient').mockReturnValue(blob);
  }

  it('tells deleted from absent', async () => {
    await vault.writeText('d', 'x');
    expect(await vault.deleteBlob('d')).toBe('deleted');
    expect(await vault.deleteBlob('d')).toBe('absent');
    await vault.deleteIfExists('d');
    await vault.writeText('e', 'x');
    await vault.deleteIfExists('e');
    expect(await vault.openBlob('e')).toBeUndefined();
  });

  it.each([
    [409, 'BlobImmutableDueToPolicy'],
    [409, 'BlobImmutableDueToLegalHold'],
    [403, 'ImmutabilityPolicyRetention'],
    [409, 'WormProtected'],
    [409, 'legalhold'],
  ])('reports a blob under WORM (%i %s) immutable', async (status, code) => {
    deleteFails(status, code);
    expect(await vault.deleteBlob('w')).toBe('immutable');
  });

  it.each([
    [409, 'LeaseIdMissing'],
    [403, 'AuthorizationPermissionMismatch'],
    [500, 'ImmutabilityInternalError'],
  ])('passes on any other refusal (%i %s)', async (status, code) => {
    deleteFails(status, code);
    await expect(vault.deleteBlob('w')).rejects.toMatchObject({ statusCode: status });
  });
});

describe('listing and reading', () => {
  it('lists names, sizes and the next level of folders under a prefix', async () => {
    await vault.writeText('a/1', '12');
    await vault.writeText('a/b/2', '123');
    await vault.writeText('c/3', '1');
    const names: string[] = [];
    for await (const name of vault.listNames('a/')) names.push(name);
    expect(names).toEqual(['a/1', 'a/b/2']);
    const blobs: { name: string; size: number }[] = [];
    for await (const blob of vault.listBlobs('a/')) {
      expect(blob.createdOn).toBeInstanceOf(Date);
      blobs.push({ name: blob.name, size: blob.size });
    }
    expect(blobs).toEqual([
      { name: 'a/1', size: 2 },
      { name: 'a/b/2', size: 3 },
    ]);
    const prefixes: string[] = [];
    for await (const prefix of vault.listPrefixes('a/')) prefixes.push(prefix);
    expect(prefixes).toEqual(['a/b/']);
  });

  it('opens a blob as a stream with its length, or undefined when absent', async () => {
    await vault.writeText('o', 'hello');
    const opened = await vault.openBlob('o', new AbortController().signal);
    expect(opened?.length).toBe(5);
    const parts: Buffer[] = [];
    for await (const part of opened!.stream) parts.push(part as Buffer);
    expect(Buffer.concat(parts).toString()).toBe('hello');
    expect(await vault.openBlob('none')).toBeUndefined();
  });
});
