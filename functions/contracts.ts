/**
 * Every orchestration and activity of the app: its name, what it takes and what it returns. Orchestrators call
 * through these and activity files register against them (durable.ts), so a mismatch fails to compile. Only
 * ids, counts, short reasons and blob names cross this boundary: Durable keeps inputs and outputs in plain text
 * in the task hub, so nothing here may carry a token, a secret or an importUrl, and no item list travels here.
 */
import type { CommitInput } from '../shared/backup/commit.js';
import type { ExportBatchInput } from '../shared/backup/exportBatch.js';
import type { PlanInput, PlanSliceInput, PlanSliceResult } from '../shared/backup/plan.js';
import type { BatchSummary, MailboxTarget, PlanSummary } from '../shared/backup/types.js';
import type { ConvertBatchInput } from '../shared/download/convertBatch.js';
import type { FinishDownloadInput } from '../shared/download/report.js';
import type { DownloadPlanSummary, DownloadReport } from '../shared/download/types.js';
import type { VerifyMode } from '../shared/maintenance/verify.js';
import type { ImportBatchInput, ImportBatchSummary } from '../shared/restore/importBatch.js';
import type { RestorePlanSummary, RestoreReport } from '../shared/restore/types.js';
import type { ClaimOutcome } from '../shared/vault/mailboxOwner.js';
import type { OutcomeStatus } from '../shared/status.js';
import { activityContract, orchestrationContract } from './durable.js';

// ---- Backup ----

/** Run-wide settings, resolved by the starter so orchestrators never read the environment. */
export interface BackupRunSettings {
  /** Mailboxes backed up at once: the run's lanes, each taking the next mailbox as it finishes one. */
  waveSize: number;
  exportConcurrency: number;
  windowsPerEpisode: number;
  /** Mailboxes per page of the run's scope and report (runScope.ts's default when absent). */
  pageSize?: number;
  /** Mailboxes a lane backs up before it continues as new (backupOrchestrators.ts's default when absent). */
  mailboxesPerLaneEpisode?: number;
}

export interface BackupTenantInput {
  runId: string;
  trigger: 'timer' | 'http';
  startedAt: string;
  /** UPNs an admin asked for; the configured scope when absent. */
  mailboxes?: string[];
  settings: BackupRunSettings;
}

/** One lane of a run: backs up the next mailbox nobody has taken, one after another, until none is left. */
export interface BackupLaneInput {
  runId: string;
  lane: number;
  snapshotId: string;
  startedAt: string;
  settings: BackupRunSettings;
  /** The run's scope: how many mailboxes, in pages of how many. */
  scope: { count: number; pageSize: number };
  /** Mailboxes this lane has taken so far (carried by continueAsNew). */
  taken?: number;
}

export interface BackupRunOutput {
  runId: string;
  status: OutcomeStatus;
  reportBlob: string;
  totals: Record<string, number>;
}

export interface BackupMailboxInput {
  runId: string;
  mailboxId: string;
  upn: string;
  /** An in-place archive: the primary mailbox it belongs to. */
  archiveOf?: string;
  snapshotId: string;
  startedAt: string;
  settings: BackupRunSettings;
  plan?: PlanSummary;
  /** Planning's next slice, when an episode continued as new while planning. */
  planSlice?: number;
  /** The commit's next slice, when an episode continued as new while committing. */
  commitSlice?: number;
  nextBatch?: number;
  failedBatches?: Array<{ batch: number; reason: string }>;
}

export interface BackupMailboxOutput {
  upn: string;
  status: OutcomeStatus;
  exported: number;
  failed: number;
}

export const backupTenant = orchestrationContract<BackupTenantInput, BackupRunOutput>('backupTenant');
export const backupMailbox = orchestrationContract<BackupMailboxInput, BackupMailboxOutput>('backupMailbox');
/** What a lane did: how many mailboxes it took, and why it stopped early if it did. */
export interface LaneOutput {
  mailboxes: number;
  stoppedBecause?: string;
}
export const backupLane = orchestrationContract<BackupLaneInput, LaneOutput>('backupLane');

/** Scope → mailbox pages in the run's folder; only the counts go back through Durable. */
export const resolveMailboxes = activityContract<
  { runId: string; mailboxes: string[] | null; pageSize: number },
  { count: number; pageSize: number; pages: number }
>('resolveMailboxes');
/** The next mailbox for a lane's `seq`-th take (the same one when retried), or null when none is left. */
export const takeNextMailbox = activityContract<
  { runId: string; lane: number; seq: number; scope: { count: number; pageSize: number } },
  MailboxTarget | null
>('takeNextMailbox');
/** Gathers one page of the run report (results and deletion checks) into the run's folder. */
export const writeRunReportPage = activityContract<
  { runId: string; trigger: 'timer' | 'http'; startedAt: string; stoppedBecause?: string; page: number },
  null
>('writeRunReportPage');
/** Plans in one activity: kept for orchestrations started before planning had slices (their queued work). */
export const planMailbox = activityContract<PlanInput, PlanSummary>('planMailbox');
/** One slice of planning (shared/backup/plan.ts): the next slice's number, or the finished plan's counts. */
export const planMailboxSlice = activityContract<PlanSliceInput, PlanSliceResult>('planMailboxSlice');
export const exportBatch = activityContract<ExportBatchInput, BatchSummary>('exportBatch');
/** The whole commit in one activity: registered for orchestrations started before commits went in slices. */
export const commitSnapshot = activityContract<CommitInput, BackupMailboxOutput>('commitSnapshot');
/** One slice of a mailbox's commit (commit.ts): the next slice's number, or the mailbox's outcome. */
export const commitSnapshotSlice = activityContract<
  CommitInput & { slice: number },
  { nextSlice: number } | { output: BackupMailboxOutput }
>('commitSnapshotSlice');
/** The mailbox for this run from plan to commit, or the run that already owns it (mailboxOwner.ts). */
export const claimMailbox = activityContract<
  {
    runId: string;
    mailboxId: string;
    /** The run's start: a snapshot a later run has taken since is newer (absent in histories from before). */
    startedAt?: string;
  },
  ClaimOutcome
>('claimMailbox');
/** A mailbox another run was backing up, or had backed up since this run started: recorded as skipped. */
export const recordMailboxSkipped = activityContract<
  {
    runId: string;
    mailboxId: string;
    upn: string;
    archiveOf?: string;
    startedAt: string;
    runningRun: string;
    newerSnapshotId?: string;
  },
  null
>('recordMailboxSkipped');
export const recordMailboxFailure = activityContract<
  { runId: string; mailboxId: string; upn: string; archiveOf?: string; startedAt: string; reason: string },
  null
>('recordMailboxFailure');
export const writeRunReport = activityContract<
  { runId: string; trigger: 'timer' | 'http'; startedAt: string; stoppedBecause?: string },
  BackupRunOutput
>('writeRunReport');

// ---- Restore ----

export interface RestoreMailboxInput {
  restoreId: string;
  targetMailboxId: string;
  importConcurrency: number;
  windowsPerEpisode: number;
  plan?: RestorePlanSummary;
  nextBatch?: number;
  /** The planning slice an episode starts from, handed on by continue-as-new. */
  planSlice?: number;
}

export interface RestoreOutput {
  restoreId: string;
  status: RestoreReport['status'];
  counts: RestoreReport['counts'];
}

export const restoreMailbox = orchestrationContract<RestoreMailboxInput, RestoreOutput>('restoreMailbox');

/** The one-activity plan of restores started before plans were sliced (kept for those in flight). */
export const planRestore = activityContract<{ restoreId: string }, RestorePlanSummary>('planRestore');
export const planRestoreSlice = activityContract<
  { restoreId: string; slice: number },
  { nextSlice: number } | { summary: RestorePlanSummary }
>('planRestoreSlice');
export const importBatch = activityContract<ImportBatchInput, ImportBatchSummary>('importBatch');
export const finishRestore = activityContract<
  { restoreId: string; plan?: RestorePlanSummary; error?: string },
  RestoreOutput
>('finishRestore');

// ---- Maintenance ----

export interface MaintenanceInput {
  id: string;
  trigger: 'timer' | 'http';
  startedAt: string;
  prune: { dryRun: boolean } | null;
  verify: { mode: VerifyMode } | null;
  /** Mailbox keys asked for; every mailbox in the vault when null. */
  mailboxKeys: string[] | null;
  /**
   * Windows of mailboxes per execution before it continues as new (`MAILBOX_VAULT_WINDOWS_PER_EPISODE`, as the
   * triggers pass it); 25 when absent.
   */
  windowsPerEpisode?: number;
  /** Set by continueAsNew: where the run goes on, and how many mailboxes it has. */
  resume?: { step: 'prune' | 'verify'; offset: number; count: number };
}

/** One mailbox of a maintenance run, by its place in the run's mailbox list. */
export type MaintenanceMailboxInput = MaintenanceInput & { index: number };

export const vaultMaintenance = orchestrationContract<MaintenanceInput, { status: string; reportBlob: string }>(
  'vaultMaintenance',
);

/** `startedAt` (absent from runs started before reader markers): the clock of the reader-marker backfill. */
export const listVaultMailboxes = activityContract<
  { id: string; mailboxKeys: string[] | null; startedAt?: string },
  { count: number }
>('listVaultMailboxes');
export const pruneVaultMailbox = activityContract<MaintenanceMailboxInput, { versionsDeleted: number }>(
  'pruneVaultMailbox',
);
/** Run, restore and download artifacts past the retention policy: deleted (or counted, in a dry run) after the prune. */
export const expireRunArtifacts = activityContract<MaintenanceInput, { blobsDeleted: number }>('expireRunArtifacts');
export const verifyVaultMailbox = activityContract<MaintenanceMailboxInput, { problems: number }>('verifyVaultMailbox');
export const writeMaintenanceReport = activityContract<MaintenanceInput, { status: string; reportBlob: string }>(
  'writeMaintenanceReport',
);

// ---- Download (export of a selection as one MBOX or ZIP) ----

export interface DownloadExportInput {
  downloadId: string;
  format: 'mbox' | 'zip';
  windowsPerEpisode: number;
  plan?: DownloadPlanSummary;
  nextBatch?: number;
}

export interface DownloadOutput {
  downloadId: string;
  status: DownloadReport['status'];
  counts: DownloadReport['counts'];
}

export const downloadExport = orchestrationContract<DownloadExportInput, DownloadOutput>('downloadExport');

export const planDownload = activityContract<{ downloadId: string }, DownloadPlanSummary>('planDownload');
export const convertDownloadBatch = activityContract<ConvertBatchInput, { converted: number; failed: number }>(
  'convertDownloadBatch',
);
export const assembleDownload = activityContract<
  { downloadId: string; format: 'mbox' | 'zip'; batchCount: number },
  { blob: string; bytes: number; items: number }
>('assembleDownload');
export const finishDownload = activityContract<FinishDownloadInput, DownloadOutput>('finishDownload');
