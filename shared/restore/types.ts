import type { RestoreStatus } from '../status.js';

/** A restore as requested (validated), kept in restores/{id}/request.json. */
export interface RestoreRequest {
  restoreId: string;
  requestedAt: string;
  source: { mailboxId: string; upn: string | null; snapshotId: string; takenAt: string };
  target: { mailboxId: string; upn: string | null };
  filters: RestoreFilters;
  destination: { mode: 'newFolder' | 'original' | 'folder'; folderPath?: string[] };
  collisions: 'skip' | 'copy';
  /** Who asked: the signed-in caller's UPN or name, as App Service Authentication verified it. */
  requestedBy: string;
  /** Their Entra object id (a self-service user follows only their own restores); null in older requests. */
  requesterOid?: string | null;
}

export interface RestoreFilters {
  /** Folder paths (names from the root); an item is selected if its folder is one of them or below one. */
  folders?: string[][];
  itemIds?: string[];
  createdFrom?: string;
  createdTo?: string;
  receivedFrom?: string;
  receivedTo?: string;
  itemTypes?: string[];
}

export interface PlannedImport {
  sourceId: string;
  blob: string;
  sha256: string;
  length: number;
  targetFolderId: string;
  folderPath: string;
  subject?: string;
  searchKey?: string;
}

export interface PlannedImportBatch {
  batch: number;
  items: PlannedImport[];
}

export interface RestorePlanSummary {
  batchCount: number;
  selected: number;
  toImport: number;
  skippedPresent: number;
  bytesToImport: number;
  destinationRoot: string;
  foldersCreated: number;
}

/** Something the report must say about an item that was imported all the same. */
export interface ImportWarning {
  code: 'JournalNotWritten' | 'PossibleDuplicate';
  message: string;
}

export type ImportOutcome =
  | { sourceId: string; status: 'imported'; newItemId: string; recovered?: boolean; warning?: ImportWarning }
  | { sourceId: string; status: 'alreadyImported'; newItemId: string }
  | { sourceId: string; status: 'failed'; code: string; message: string };

export interface ImportBatchResult {
  batch: number;
  outcomes: ImportOutcome[];
  bytesImported: number;
  throttledResponses: number;
  throttleWaitInMs: number;
  sessionsRenewed: number;
}

export interface RestoreReport {
  restoreId: string;
  status: RestoreStatus;
  requestedAt: string;
  finishedAt: string;
  durationInMs: number;
  source: RestoreRequest['source'];
  target: RestoreRequest['target'];
  destination: { mode: RestoreRequest['destination']['mode']; root: string };
  collisions: RestoreRequest['collisions'];
  counts: { selected: number; imported: number; skippedAlreadyPresent: number; failed: number };
  bytesImported: number;
  throttling: { responses: number; waitInMs: number };
  failures: Array<{ sourceItemId: string; folderPath: string; subject?: string; code: string; message: string }>;
  /** What weakened a guarantee without failing an item: an unwritten journal entry, items without a search key. */
  warnings: Array<{ sourceItemId?: string; code: ImportWarning['code'] | 'NoSearchKey'; message: string }>;
  error?: string;
}
