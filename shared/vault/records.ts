/** The vault's record shapes (docs/how-it-works.md, vault layout). Everything here is JSON in a blob. */
import type { ItemMeta } from '../mailbox/items.js';
import type { SnapshotStatus } from '../status.js';

export type { ItemMeta } from '../mailbox/items.js';

export interface ManifestFolder {
  kind: 'folder';
  id: string;
  parentId: string | null;
  displayName: string;
  /** Names from the mailbox root down, so a '/' inside a name stays unambiguous. */
  path: string[];
  type: string;
  wellKnownName: string | null;
}

export interface ManifestItem extends ItemMeta {
  kind: 'item';
  blob: string;
  sha256: string;
  length: number;
  /** This version is an older one kept because the newer one failed to export in this run. */
  stale?: true;
}

export type ManifestEntry = ManifestFolder | ManifestItem;

/** The commit record: written last, so a snapshot without one does not exist. */
export interface SnapshotRecord {
  snapshotId: string;
  mailboxId: string;
  upn: string;
  /** A snapshot of an in-place archive: the primary mailbox the archive belongs to. */
  archiveOf?: string;
  runId: string;
  /** The point in time the snapshot stands for (the run's start). */
  takenAt: string;
  committedAt: string;
  status: SnapshotStatus;
  folderCount: number;
  itemCount: number;
  totalBytes: number;
  manifestBlob: string;
  manifestSha256: string;
  /**
   * Where each folder's items lie in the manifest (manifestWriter.ts). Absent in snapshots committed before
   * manifests were indexed: those are read in one pass.
   */
  manifestIndexBlob?: string;
  previousSnapshotId: string | null;
  /** Items this run could not back up (named in the run report); older versions kept where there were. */
  failedItemCount: number;
}

export interface DeltaState {
  folderDeltaLink?: string;
  /** Folder id → item deltaLink for that folder. */
  itemDeltaLinks: Record<string, string>;
  lastSnapshotId?: string;
  updatedAt: string;
}
