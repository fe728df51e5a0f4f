import type { RestoreFilters } from '../restore/types.js';
import type { IdPath } from './staging.js';

export type DownloadFormat = 'mbox' | 'zip';

/** An export as requested (validated), kept in downloads/{id}/request.json. */
export interface DownloadRequest {
  downloadId: string;
  requestedAt: string;
  requestedBy: string;
  /** The signed-in caller's object id: a self-service user follows only their own downloads. */
  requesterOid?: string;
  format: DownloadFormat;
  source: { mailboxId: string; upn: string | null; snapshotId: string; takenAt: string };
  filters: RestoreFilters;
}

/** One item of an export's plan: where it is in the vault, and what its file is named by. */
export interface PlannedDownload {
  sourceId: string;
  blob: string;
  sha256: string;
  length: number;
  folderPath: string;
  subject?: string;
  receivedDateTime?: string;
}

export interface PlannedDownloadBatch {
  batch: number;
  items: PlannedDownload[];
}

/** Selected items Graph cannot render as a file: named in the report, with what to do instead. */
export interface NotDownloadable {
  sourceItemId: string;
  type: string;
  folderPath: string;
  subject?: string;
}

export interface DownloadPlanSummary {
  batchCount: number;
  selected: number;
  toConvert: number;
  notDownloadable: number;
  bytesToConvert: number;
  stagingFolderId: string;
  stagingFolderName: string;
}

export type ConversionOutcome =
  | { sourceId: string; status: 'converted'; bytes: number; idPath: IdPath }
  | { sourceId: string; status: 'failed'; code: string; message: string };

export interface DownloadBatchResult {
  batch: number;
  outcomes: ConversionOutcome[];
  /** Items an interrupted earlier attempt left in the staging folder, deleted before this one began. */
  leftoversCleared: number;
}

export interface DownloadReport {
  downloadId: string;
  status: 'Completed' | 'CompletedWithErrors' | 'Failed';
  format: DownloadFormat;
  requestedAt: string;
  finishedAt: string;
  source: DownloadRequest['source'];
  counts: { selected: number; converted: number; notDownloadable: number; failed: number };
  /** How each staged copy was found for reading (graph-mailbox-api.md §11: import ids, else the folder listing). */
  idPaths: Record<IdPath, number>;
  /** The file, once assembled: its blob, size, and until when it may be downloaded. */
  file?: { blob: string; bytes: number; expiresAt: string };
  failures: Array<{ sourceItemId: string; folderPath: string; subject?: string; code: string; message: string }>;
  notDownloadable: Array<NotDownloadable & { reason: string }>;
  /** Whether the staging folder was deleted at the end (the sweep removes it otherwise). */
  stagingCleaned: boolean;
  error?: string;
}
