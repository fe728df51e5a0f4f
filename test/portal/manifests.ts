import type { ManifestEntry, ManifestFolder, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import type { ManifestSource } from '../../shared/vault/itemSearch.js';

export function folder(id: string, path: string[]): ManifestFolder {
  return { kind: 'folder', id, parentId: null, displayName: path.at(-1)!, path, type: 'IPF.Note', wellKnownName: null };
}

export function item(id: string, folderId: string, meta: Partial<ManifestItem> = {}): ManifestItem {
  return {
    kind: 'item',
    id,
    folderId,
    changeKey: 'ck1',
    type: 'IPM.Note',
    size: 100,
    blob: `blob-${id}`,
    sha256: `sha-${id}-${meta.changeKey ?? 'ck1'}`,
    length: 100,
    ...meta,
  };
}

export function snapshot(snapshotId: string, entries: ManifestEntry[]): SnapshotRecord & { entries: ManifestEntry[] } {
  return {
    snapshotId,
    mailboxId: 'mbx',
    upn: 'adele@contoso.example',
    runId: `run-${snapshotId}`,
    takenAt: `${snapshotId.slice(0, 4)}-${snapshotId.slice(4, 6)}-${snapshotId.slice(6, 8)}T02:00:00Z`,
    committedAt: '',
    status: 'Completed',
    folderCount: entries.filter((e) => e.kind === 'folder').length,
    itemCount: entries.filter((e) => e.kind === 'item').length,
    totalBytes: 0,
    manifestBlob: '',
    manifestSha256: '',
    previousSnapshotId: null,
    failedItemCount: 0,
    entries,
  };
}

/** Manifests from memory, counting how many times each was read (the compare's passes). */
export function memorySource(): ManifestSource & { reads: number } {
  const source = Object.assign(
    async function* (s: SnapshotRecord) {
      source.reads++;
      yield* (s as SnapshotRecord & { entries: ManifestEntry[] }).entries;
    },
    { reads: 0 },
  );
  return source;
}
