import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient, BlockBlobClient, RestError } from '@azure/storage-blob';
import { updateJson } from '../../shared/vault/conditionalJson.js';
import { layout } from '../../shared/vault/layout.js';
import { claimMailbox, releaseClaim, withMailboxLease } from '../../shared/vault/mailboxOwner.js';
import { VaultStore, VersionConflictError } from '../../shared/vault/vaultStore.js';
import { setVaultWriteHook, type VaultWrite } from '../../shared/vault/writeFaults.js';
import { azuriteConnectionString } from '../support/vault.js';

/**
 * The edges of the vault's write-once paths that the first mutation run found untested (docs/mutation-testing.md):
 * how many requests a version costs, failures that are not "already there", the write hook's names (the crash
 * tests stop on them), a claim with no way to ask whether its holder ended, and conditional updates that give up.
 */

const BLOCK = 1024;
let vault: VaultStore;

beforeEach(async () => {
  const service = BlobServiceClient.fromConnectionString(azuriteConnectionString());
  vault = new VaultStore(service, `edges-${randomBytes(6).toString('hex')}`, { blockSizeInBytes: BLOCK });
  await vault.ensureContainer();
});

afterEach(() => {
  vi.restoreAllMocks();
  setVaultWriteHook(undefined);
});

async function* pieces(bytes: Buffer, size: number) {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const committedBlocks = async (name: string) =>
  (await vault.container.getBlockBlobClient(name).getBlockList('committed')).committedBlocks ?? [];

describe('the requests an item version costs', () => {
  it('a whole item of up to one block is one Put Blob; one byte more is staged in blocks', async () => {
    const blockClients = vi.spyOn(vault.container, 'getBlockBlobClient');
    await vault.writeItemVersion('one', randomBytes(BLOCK));
    expect(blockClients).not.toHaveBeenCalled();
    await vault.writeItemVersion('two', randomBytes(BLOCK + 1));
    expect(blockClients).toHaveBeenCalledWith('two');
    blockClients.mockRestore();
    expect((await committedBlocks('two')).map((b) => b.size)).toEqual([BLOCK, 1]);
  });

  it('a streamed item is staged block by block, with no empty block after an exact multiple', async () => {
    await vault.writeItemVersion('three', pieces(randomBytes(3 * BLOCK), 100));
    expect((await committedBlocks('three')).map((b) => b.size)).toEqual([BLOCK, BLOCK, BLOCK]);
  });
});

describe('failures that are not "already there"', () => {
  it('a block write refused as the last block is staged passes the failure on', async () => {
    const missing = new VaultStore(
      BlobServiceClient.fromConnectionString(azuriteConnectionString()),
      `absent-${randomBytes(6).toString('hex')}`,
      { blockSizeInBytes: BLOCK },
    );
    await expect(missing.writeItemVersion('x', pieces(randomBytes(BLOCK + 10), BLOCK))).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it('reading a version’s hash passes on a failure other than absent', async () => {
    vi.spyOn(BlockBlobClient.prototype, 'getProperties').mockRejectedValue(new RestError('busy', { statusCode: 503 }));
    await expect(vault.getItemVersion('v')).rejects.toMatchObject({ statusCode: 503 });
  });

  it('a version deleted between the refused write and the check is a conflict, not a crash', async () => {
    const bytes = randomBytes(10);
    await vault.writeItemVersion('gone', bytes);
    vi.spyOn(BlockBlobClient.prototype, 'getProperties').mockRejectedValue(
      new RestError('gone', { statusCode: 404, code: 'BlobNotFound' }),
    );
    await expect(vault.writeItemVersion('gone', bytes)).rejects.toBeInstanceOf(VersionConflictError);
  });

  it('opening a version honours the caller’s abort', async () => {
    await vault.writeItemVersion('o', randomBytes(10));
    const aborted = AbortSignal.abort();
    await expect(vault.openItemVersion('o', aborted)).rejects.toThrow(/abort/i);
  });

  it('a conditional update passes on a failed read without changing anything', async () => {
    vi.spyOn(BlockBlobClient.prototype, 'download').mockRejectedValue(new RestError('busy', { statusCode: 503 }));
    const change = vi.fn(() => ({ next: 1, answer: 1 }));
    await expect(updateJson(vault, 'c.json', () => 0, change)).rejects.toMatchObject({ statusCode: 503 });
    expect(change).not.toHaveBeenCalled();
  });

  it('a conditional update passes on a failed write at once, and gives up after 50 conflicts', async () => {
    const upload = vi
      .spyOn(BlockBlobClient.prototype, 'upload')
      .mockRejectedValue(new RestError('busy', { statusCode: 503 }));
    await expect(
      updateJson(
        vault,
        'c.json',
        () => 0,
        () => ({ next: 1, answer: 1 }),
      ),
    ).rejects.toMatchObject({
      statusCode: 503,
    });
    expect(upload).toHaveBeenCalledTimes(1);
    upload.mockClear();
    upload.mockRejectedValue(new RestError('conflict', { statusCode: 412 }));
    await expect(
      updateJson(
        vault,
        'c.json',
        () => 0,
        () => ({ next: 1, answer: 1 }),
      ),
    ).rejects.toMatchObject({
      statusCode: 412,
    });
    expect(upload).toHaveBeenCalledTimes(50);
  }, 30_000);
});

describe('the mailbox claim', () => {
  const KEY = 'd'.repeat(32);

  it('without a way to ask whether the holder ended, is refused while the holder has no result', async () => {
    const now = new Date('2026-11-23T02:00:00Z');
    await claimMailbox(vault, KEY, 'run-1', now);
    expect(await claimMailbox(vault, KEY, 'run-2', now)).toEqual({ granted: false, runningRun: 'run-1' });
  });

  it('is released by a run when nobody holds it, changing nothing', async () => {
    await withMailboxLease(vault, KEY, (held) => releaseClaim(held, 'run-1'));
    expect(await vault.readJson(layout.byKey.owner(KEY))).toEqual({ holder: null, prunes: 0 });
  });
});

describe('the write hook', () => {
  it('names each write it sees: JSON, deletes, the owner record and a conditional update', async () => {
    const seen: string[] = [];
    setVaultWriteHook((write: VaultWrite, phase) => seen.push(`${phase} ${write.op} ${write.blobName}`));
    await vault.writeJson('r.json', {});
    await vault.deleteBlob('r.json');
    await withMailboxLease(vault, 'e'.repeat(32), (held) => held.write({ holder: null, prunes: 1 }));
    await updateJson(
      vault,
      'c.json',
      () => 0,
      (n) => ({ next: n + 1, answer: n }),
    );
    const owner = layout.byKey.owner('e'.repeat(32));
    expect(seen).toEqual([
      'before putJson r.json',
      'after putJson r.json',
      'before delete r.json',
      'after delete r.json',
      `before putJson ${owner}`,
      `after putJson ${owner}`,
      `before putOwner ${owner}`,
      `after putOwner ${owner}`,
      'before putConditional c.json',
      'after putConditional c.json',
    ]);
  });
});
