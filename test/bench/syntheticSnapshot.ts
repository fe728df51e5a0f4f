import { layout, snapshotIdFor } from '../../shared/vault/layout.js';
import { writeManifest } from '../../shared/vault/manifestWriter.js';
import type { ManifestFolder, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';

/** The heap benches' synthetic mailbox: items in 20 folders, ids of 152 characters as in issue #16's table. */
export const FOLDERS = 20;
export const idOf = (n: number) => `AAMk${String(n).padStart(12, '0')}${'x'.repeat(136)}`;
export const folderIdOf = (f: number) => `folder-${String(f).padStart(2, '0')}`;

/** The items of folder f among `items`: n ≡ f (mod FOLDERS). */
export function* folderItems(f: number, items: number): Generator<number> {
  for (let n = f; n < items; n += FOLDERS) yield n;
}

export interface SyntheticSnapshot {
  mailboxId: string;
  runId: string;
  takenAt: string;
  items: number;
  changeKeyOf: (n: number) => string;
}

/** A snapshot of the synthetic mailbox, committed as the commit writes one (indexed manifest, then its record). */
export async function writeSyntheticSnapshot(vault: VaultStore, snapshot: SyntheticSnapshot): Promise<SnapshotRecord> {
  const { mailboxId, runId, takenAt, items: count, changeKeyOf } = snapshot;
  const snapshotId = snapshotIdFor(takenAt, runId);
  const folders: ManifestFolder[] = Array.from({ length: FOLDERS }, (_, f) => ({
    kind: 'folder',
    id: folderIdOf(f),
    parentId: 'root',
    displayName: `Folder ${f}`,
    path: [`Folder ${f}`],
    type: 'IPF.Note',
    wellKnownName: null,
  }));
  function* items(): Generator<ManifestItem> {
    for (let f = 0; f < FOLDERS; f++)
      for (const n of folderItems(f, count))
        yield {
          kind: 'item',
          id: idOf(n),
          folderId: folderIdOf(f),
          changeKey: changeKeyOf(n),
          type: 'IPM.Note',
          size: 2048,
          subject: `Subject ${n}`,
          blob: layout.itemVersion(mailboxId, idOf(n), changeKeyOf(n)),
          sha256: '0'.repeat(64),
          length: 2100,
        };
  }
  const manifestBlob = layout.manifest(mailboxId, snapshotId);
  // Items in (folder, id) order, as an indexed manifest holds them (ids of equal length sort by number).
  const sorted = [...items()].sort((a, b) => (a.folderId + a.id < b.folderId + b.id ? -1 : 1));
  const written = await writeManifest(vault, manifestBlob, folders, sorted);
  await vault.writeJson(layout.manifestIndex(mailboxId, snapshotId), written.index);
  const record: SnapshotRecord = {
    snapshotId,
    mailboxId,
    upn: 'heap@contoso.example',
    runId,
    takenAt,
    committedAt: takenAt,
    status: 'Completed',
    folderCount: FOLDERS,
    itemCount: count,
    totalBytes: count * 2100,
    manifestBlob,
    manifestSha256: written.sha256,
    manifestIndexBlob: layout.manifestIndex(mailboxId, snapshotId),
    previousSnapshotId: null,
    failedItemCount: 0,
  };
  await vault.writeJson(layout.snapshotRecord(mailboxId, snapshotId), record);
  return record;
}
