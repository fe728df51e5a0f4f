import type { OutcomeStatus } from '../status.js';
import type { CoverageSummary } from './coverageReport.js';
import type { ItemMeta, ManifestFolder } from '../vault/records.js';

export type { ItemMeta } from '../vault/records.js';

export interface StoredRef {
  blob: string;
  sha256: string;
  length: number;
}

/** One record of a run's change list (changes.ndjson.gz), written by planning, read by the commit. */
export type ChangeRecord =
  | ManifestFolder
  | { kind: 'resync'; folderId: string }
  | { kind: 'upsert'; item: ItemMeta; known?: StoredRef }
  | { kind: 'remove'; id: string; folderId: string }
  | { kind: 'folderFailed'; folderId: string; reason: string }
  /** Backed up completely, but not through delta: said in the report, never silently. */
  | { kind: 'folderEnumerated'; folderId: string; reason: string }
  /** Items of the folder left without a search key (restores cannot match them), and why. */
  | { kind: 'metadataGap'; folderId: string; items: number; reason: string }
  /**
   * The folder's totalItemCount as Exchange reported it after the rounds, and how the items no round reported
   * were accounted for (see coverage.ts).
   */
  | { kind: 'folderCount'; folderId: string; exchangeCount: number; missedByDelta: number; arrivedDuringRun: number }
  | { kind: 'coverageUnchecked'; reason: string }
  | { kind: 'folderNotCompared'; folderId: string; reason: string };

export interface PlannedItem {
  id: string;
  folderId: string;
  changeKey: string;
  size: number;
}

/** One line of plan.ndjson. */
export interface PlannedBatch {
  batch: number;
  items: PlannedItem[];
}

export type ItemResult =
  | { id: string; ok: true; blob: string; sha256: string; length: number; written: boolean }
  | { id: string; ok: false; code: string; message: string };

/** One batch's outcome, kept in the run's folder so a retried or resumed run knows what is stored. */
export interface BatchResult {
  batch: number;
  planVersion: string;
  results: ItemResult[];
  throttledResponses: number;
  throttleWaitInMs: number;
}

export interface PlanSummary {
  /** Identifies this plan's batches (see readPlannedBatches). */
  planVersion: string;
  batchCount: number;
  itemsToExport: number;
  reportedBytesToExport: number;
  changedItems: number;
  removedItems: number;
  folders: number;
  failedFolders: number;
  /** Folders whose delta Graph refused (ErrorQuotaExceeded), listed in full through their plain item listing. */
  enumeratedFolders: number;
  fullEnumeration: boolean;
  /** Items left without a search key (their listing and the GETs after it gave none). Absent in older plans. */
  itemsWithoutSearchKey?: number;
  /** Items Exchange counted that no delta round reported, planned from the folder's listing. Absent in older plans. */
  missedByDelta?: number;
  /** Graph refused the app this mailbox (MailboxAccessDenied): nothing was planned, the mailbox fails with this reason. */
  refused?: string;
}

export interface BatchSummary {
  batch: number;
  stored: number;
  failed: number;
  bytes: number;
  /** Graph refused the app the mailbox (a missing permission, an RBAC scope): the mailbox fails with this reason. */
  refused?: string;
}

export interface MailboxTarget {
  mailboxId: string;
  upn: string;
  /** Set for an in-place archive: the primary mailbox it belongs to (it is backed up as a mailbox of its own). */
  archiveOf?: string;
}

/** Whether a run backed up in-place archives: how many were in scope, or why none were looked for. */
export interface ArchiveCoverage {
  included: number;
  reason?: string;
}

export interface ItemFailure {
  itemId: string;
  folderPath: string;
  subject?: string;
  code: string;
  message: string;
}

/** One mailbox's part of a run report. */
export interface MailboxRunResult {
  upn: string;
  mailboxId: string;
  /** An in-place archive's result: the primary mailbox it belongs to. */
  archiveOf?: string;
  status: OutcomeStatus;
  snapshotId: string | null;
  startedAt: string;
  finishedAt: string;
  durationInMs: number;
  items: {
    inSnapshot: number;
    exported: number;
    alreadyStored: number;
    failed: number;
    removed: number;
    changed: number;
  };
  bytesExported: number;
  throttling: { responses: number; waitInMs: number };
  failedFolders: Array<{ folderPath: string; reason: string }>;
  /** Folders backed up completely by listing them, because Graph refused their delta (absent in older reports). */
  enumeratedFolders?: Array<{ folderPath: string; reason: string }>;
  /** Folders with items stored without a search key: a restore cannot tell whether the target already has them. */
  itemsWithoutSearchKey?: Array<{ folderPath: string; items: number; reason: string }>;
  /** Per folder, the snapshot's items against Exchange's totalItemCount (absent in older reports). */
  coverage?: CoverageSummary;
  failures: ItemFailure[];
  error?: string;
  /** Not backed up by this run: the backup run named here owned the mailbox (its snapshot covers it). */
  skippedFor?: string;
}

export interface RunReport {
  runId: string;
  kind: 'backup';
  trigger: 'timer' | 'http';
  startedAt: string;
  finishedAt: string;
  status: OutcomeStatus;
  /**
   * Every mailbox's result when the run fits in one page; for a bigger run (`pages` set) only the mailboxes that
   * did not complete (up to a page of them): every result is in the report pages.
   */
  mailboxes: MailboxRunResult[];
  /** A run of more than one page: its results are in `runs/{id}/report/{page}.json` (absent in older reports). */
  pages?: { count: number; pageSize: number; notCompleted: number };
  warnings: string[];
  /** In-place archives: how many were backed up as mailboxes of their own, or why none were (absent in older reports). */
  archives?: ArchiveCoverage;
  totals: {
    mailboxes: number;
    failedMailboxes: number;
    itemsExported: number;
    itemsFailed: number;
    bytesExported: number;
    throttledResponses: number;
    throttleWaitInMs: number;
  };
}
