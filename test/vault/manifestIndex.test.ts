import { describe, expect, it } from 'vitest';
import { ManifestReader } from '../../shared/vault/manifestReader.js';
import { ITEMS_PER_CHUNK, writeManifest } from '../../shared/vault/manifestWriter.js';
import type { ManifestEntry, ManifestFolder, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { browseFolder } from '../../shared/vault/snapshotBrowser.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

const folder = (id: string, parentId: string | null, path: string[]): ManifestFolder => ({
  kind: 'folder',
  id,
  parentId,
  displayName: path.at(-1) ?? '',
  path,
  type: 'IPF.Note',
  wellKnownName: null,
});
const folders = [folder('root', null, []), folder('big', 'root', ['Big']), folder('small', 'root', ['Small'])];
const item = (folderId: string, n: number): ManifestItem => ({
  kind: 'item',
  id: `id-${String(n).padStart(5, '0')}`,
  folderId,
  changeKey: 'ck',
  type: 'message',
  size: n,
  blob: `b/${n}`,
  sha256: 'h',
  length: n,
});
/** 2.5 chunks in Big, three items in Small: (folder, id) order. */
const items = [
  ...Array.from({ length: ITEMS_PER_CHUNK * 2.5 }, (_, n) => item('big', n)),
  ...[0, 1, 2].map((n) => item('small', 90_000 + n)),
];

/** Counts the vault's reads (ranged or whole) by blob. */
function countingReads(vault: VaultStore): Map<string, number> {
  const reads = new Map<string, number>();
  const readRange = vault.readRange.bind(vault);
  vault.readRange = (name, offset, count) => {
    reads.set(name, (reads.get(name) ?? 0) + 1);
    return readRange(name, offset, count);
  };
  return reads;
}

async function indexedSnapshot(vault: VaultStore): Promise<SnapshotRecord> {
  const written = await writeManifest(vault, 'm/manifest', folders, items);
  await vault.writeJson('m/manifest.index', written.index);
  return { snapshotId: 's', manifestBlob: 'm/manifest', manifestIndexBlob: 'm/manifest.index' } as SnapshotRecord;
}

describe('an indexed manifest', () => {
  it('reads as one NDJSON stream, folders first, as manifests always did', async () => {
    const { vault } = await freshVault();
    const snapshot = await indexedSnapshot(vault);
    const all: ManifestEntry[] = [];
    for await (const entry of vault.readNdjsonGz<ManifestEntry>(snapshot.manifestBlob)) all.push(entry);
    expect(all).toEqual([...folders, ...items]);
  });

  it('serves a page of a large folder with one ranged read per chunk it falls in', async () => {
    const { vault } = await freshVault();
    const snapshot = await indexedSnapshot(vault);
    const reads = countingReads(vault);
    const page = await browseFolder(vault, snapshot, ['big'], { skip: ITEMS_PER_CHUNK - 10, top: 20 });
    expect(page?.total).toBe(ITEMS_PER_CHUNK * 2.5);
    expect(page?.items.map((i) => i.size)).toEqual(
      items.slice(ITEMS_PER_CHUNK - 10, ITEMS_PER_CHUNK + 10).map((i) => i.size),
    );
    // The folders' member, then the two chunks the page straddles: never the whole manifest.
    expect(reads.get('m/manifest')).toBe(3);
    const root = await browseFolder(vault, snapshot, [], { skip: 0, top: 10 });
    expect(root?.children.map((c) => [c.folder.id, c.items])).toEqual([
      ['big', ITEMS_PER_CHUNK * 2.5],
      ['small', 3],
    ]);
  });

  it('finds an item by id in the chunk whose id range holds it', async () => {
    const { vault } = await freshVault();
    const reader = await ManifestReader.open(vault, await indexedSnapshot(vault));
    const reads = countingReads(vault);
    expect((await reader.findItem('id-90001'))?.folderId).toBe('small');
    expect(await reader.findItem('id-99999')).toBeUndefined();
    expect(reads.get('m/manifest')).toBe(1);
  });
});

describe('a manifest committed before indexes', () => {
  it('is browsed and searched by reading it through', async () => {
    const { vault } = await freshVault();
    await vault.writeNdjsonGz('old/manifest', [...folders, ...items.slice().reverse()]);
    const snapshot = { snapshotId: 'old', manifestBlob: 'old/manifest' } as SnapshotRecord;
    const page = await browseFolder(vault, snapshot, ['Small'], { skip: 1, top: 5 });
    expect(page?.total).toBe(3);
    expect(page?.items.map((i) => i.id)).toEqual(['id-90001', 'id-90000']);
    expect((await (await ManifestReader.open(vault, snapshot)).findItem('id-00007'))?.folderId).toBe('big');
  });
});
