import { hash } from 'node:crypto';

/**
 * Every blob name in the vault comes from here. Graph ids hold '/', '+', '=', ':' and '@', and a mailbox id
 * is personal data, so ids never appear in names: each becomes a fixed-length hash key.
 */
export function keyOf(id: string): string {
  // One-shot hash: a blob name takes three of these, once per exported item.
  return hash('sha256', id, 'hex').slice(0, 32);
}

/** `2026-11-23T02:00:00.000Z` → `20261123T020000Z`: the time part of every run, restore and snapshot id. */
export function compactTime(date: Date | string): string {
  return new Date(date)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Sortable, URL-safe snapshot id from the run's time and id: `20261123T020000Z-1a2b3c4d`. The suffix starts with
 * the run's milliseconds in three hex digits, so two runs started within one second still sort in the order they
 * started (the newest snapshot is the one with the highest id, as `takenAt` says); five hex digits of the run id's
 * hash keep runs started in the same millisecond apart.
 */
export function snapshotIdFor(runStartedAt: Date | string, runId: string): string {
  const started = new Date(runStartedAt);
  const milliseconds = started.getUTCMilliseconds().toString(16).padStart(3, '0');
  return `${compactTime(started)}-${milliseconds}${keyOf(runId).slice(0, 5)}`;
}

export const layout = {
  mailboxPrefix: (mailboxId: string) => `mailboxes/${keyOf(mailboxId)}/`,
  itemVersion: (mailboxId: string, itemId: string, changeKey: string) =>
    `mailboxes/${keyOf(mailboxId)}/items/${keyOf(itemId)}/${keyOf(changeKey)}`,
  snapshotsPrefix: (mailboxId: string) => `mailboxes/${keyOf(mailboxId)}/snapshots/`,
  manifest: (mailboxId: string, snapshotId: string) => `mailboxes/${keyOf(mailboxId)}/snapshots/${snapshotId}/manifest`,
  /** Not `.json`: a snapshots listing takes every `.json` name under it for a commit record. */
  manifestIndex: (mailboxId: string, snapshotId: string) =>
    `mailboxes/${keyOf(mailboxId)}/snapshots/${snapshotId}/manifest.index`,
  snapshotRecord: (mailboxId: string, snapshotId: string) =>
    `mailboxes/${keyOf(mailboxId)}/snapshots/${snapshotId}.json`,
  deltaState: (mailboxId: string) => `mailboxes/${keyOf(mailboxId)}/state/delta.json`,
  /** The vault's directory (mailboxDirectory.ts): one line per mailbox, read by listing this prefix. */
  directoryPrefix: 'directory/',
  /** Under a primary mailbox: which vault mailbox holds its in-place archive (archiveLinks.ts). */
  archiveLink: (mailboxId: string) => `mailboxes/${keyOf(mailboxId)}/archive.json`,
  runMailboxes: (runId: string) => `runs/${runId}/mailboxes.json`,
  /** A page of the run's resolved scope (runScope.ts); `runs/{id}/mailboxes.json` says how many there are. */
  runMailboxPage: (runId: string, page: number) => `runs/${runId}/scope/${String(page).padStart(6, '0')}.json`,
  /** Which mailbox each lane of the run took last, and the next one to take (lanes.ts). */
  runLanes: (runId: string) => `runs/${runId}/lanes.json`,
  /** A page of the run report's mailbox results, in scope order (report.ts). */
  runReportPage: (runId: string, page: number) => `runs/${runId}/report/${String(page).padStart(6, '0')}.json`,
  runPlan: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/plan.ndjson`,
  runPlanIndex: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/plan-index.json`,
  runChanges: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/changes.ndjson.gz`,
  runNextDelta: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/delta-next.json`,
  runBatchResult: (runId: string, mailboxId: string, batch: number) =>
    `runs/${runId}/${keyOf(mailboxId)}/results/${String(batch).padStart(6, '0')}.json`,
  runBatchResultsPrefix: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/results/`,
  runMailboxResult: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/result.json`,
  /** Sorted runs of the commit's external merge (externalSort.ts), deleted when the commit is done. */
  runCommitSort: (runId: string, mailboxId: string, part: string) =>
    `runs/${runId}/${keyOf(mailboxId)}/commit-sort/${part}/`,
  runCommitSortPrefix: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/commit-sort/`,
  /** Where a commit in slices stands (commitProgress.ts), read by its next slice. */
  runCommitProgress: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/commit-progress.json`,
  runPlanSortPrefix: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/plan-sort/`,
  runPlanSort: (runId: string, mailboxId: string, part: string) =>
    `runs/${runId}/${keyOf(mailboxId)}/plan-sort/${part}/`,
  /**
   * Sorted runs of one folder's round while it is read and its items' properties completed (folderRounds.ts),
   * deleted once the round is handed over; under plan-sort, so the last slice of a plan in several deletes what a
   * crash left.
   */
  runPlanRoundSpill: (runId: string, mailboxId: string, part: string) =>
    `runs/${runId}/${keyOf(mailboxId)}/plan-sort/folder-rounds/${part}/`,
  /** Planning's checkpoints: what its first slice read (baseline, folder tree), then its progress after each slice. */
  runPlanStart: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/plan-start.json`,
  runPlanProgress: (runId: string, mailboxId: string) => `runs/${runId}/${keyOf(mailboxId)}/plan-progress.json`,
  runMailboxResultsPrefix: (runId: string) => `runs/${runId}/`,
  runReport: (runId: string) => `runs/${runId}/report.json`,
  restoreRequest: (restoreId: string) => `restores/${restoreId}/request.json`,
  restorePlan: (restoreId: string) => `restores/${restoreId}/plan.ndjson`,
  restorePlanIndex: (restoreId: string) => `restores/${restoreId}/plan-index.json`,
  restorePlanSummary: (restoreId: string) => `restores/${restoreId}/plan-summary.json`,
  /** Sorted runs of a restore plan's skip of items the target holds (restore/presentItems.ts), deleted after. */
  restorePlanSort: (restoreId: string) => `restores/${restoreId}/plan-sort/`,
  /** A restore plan in slices: where it stands (restore/plan.ts). */
  restorePlanProgress: (restoreId: string) => `restores/${restoreId}/plan-progress.json`,
  /** Sorted runs of the search keys the restore's target holds, listed slice by slice (restore/targetKeys.ts). */
  restorePlanKeys: (restoreId: string) => `restores/${restoreId}/plan-keys/`,
  restoreJournal: (restoreId: string, sourceItemId: string) =>
    `restores/${restoreId}/journal/${keyOf(sourceItemId)}.json`,
  /** Written before each import POST of the item (restore/journal.ts); per batch, so a batch lists its own. */
  restoreIntent: (restoreId: string, batch: number, sourceItemId: string) =>
    `restores/${restoreId}/intents/${String(batch).padStart(6, '0')}/${keyOf(sourceItemId)}.json`,
  restoreIntentsPrefix: (restoreId: string, batch: number) =>
    `restores/${restoreId}/intents/${String(batch).padStart(6, '0')}/`,
  restoreResult: (restoreId: string, batch: number) =>
    `restores/${restoreId}/results/${String(batch).padStart(6, '0')}.json`,
  restoreCanceled: (restoreId: string) => `restores/${restoreId}/canceled.json`,
  restoreReport: (restoreId: string) => `restores/${restoreId}/report.json`,
  downloadRequest: (id: string) => `downloads/${id}/request.json`,
  downloadPlan: (id: string) => `downloads/${id}/plan.ndjson`,
  downloadPlanIndex: (id: string) => `downloads/${id}/plan-index.json`,
  downloadPlanSummary: (id: string) => `downloads/${id}/plan-summary.json`,
  /** One converted item's MIME, kept until the export file is assembled. */
  downloadEml: (id: string, sourceItemId: string) => `downloads/${id}/eml/${keyOf(sourceItemId)}.eml`,
  downloadEmlPrefix: (id: string) => `downloads/${id}/eml/`,
  downloadResult: (id: string, batch: number) => `downloads/${id}/results/${String(batch).padStart(6, '0')}.json`,
  /** Touched while an export converts, so the staging sweep leaves its folder alone. */
  downloadHeartbeat: (id: string) => `downloads/${id}/heartbeat.json`,
  downloadFile: (id: string, format: 'mbox' | 'zip') => `downloads/${id}/export.${format}`,
  downloadReport: (id: string) => `downloads/${id}/report.json`,
  downloadsPrefix: () => 'downloads/',
  /** Written once every running restore and download has a reader marker (maintenance/readerMarkers.ts). */
  readerMarkersBackfilled: () => 'state/reader-markers.json',
  maintenanceMailboxes: (id: string) => `maintenance/${id}/mailboxes.json`,
  maintenanceReport: (id: string) => `maintenance/${id}/report.json`,
  maintenanceResult: (id: string, part: string, mailboxKey: string) => `maintenance/${id}/${part}/${mailboxKey}.json`,
  maintenanceResultsPrefix: (id: string, part: string) => `maintenance/${id}/${part}/`,
  /** What the run deleted of run and restore artifacts past the retention policy (maintenance/artifacts.ts). */
  maintenanceArtifacts: (id: string) => `maintenance/${id}/artifacts.json`,
  /** The same names from a mailbox key (maintenance walks the vault without knowing mailbox ids). */
  byKey: {
    mailbox: (mailboxKey: string) => `mailboxes/${mailboxKey}/`,
    items: (mailboxKey: string) => `mailboxes/${mailboxKey}/items/`,
    snapshots: (mailboxKey: string) => `mailboxes/${mailboxKey}/snapshots/`,
    snapshotRecord: (mailboxKey: string, snapshotId: string) => `mailboxes/${mailboxKey}/snapshots/${snapshotId}.json`,
    manifest: (mailboxKey: string, snapshotId: string) => `mailboxes/${mailboxKey}/snapshots/${snapshotId}/manifest`,
    deltaState: (mailboxKey: string) => `mailboxes/${mailboxKey}/state/delta.json`,
    /** The mailbox's line in the vault's directory: its newest snapshot and how many it has. */
    directoryEntry: (mailboxKey: string) => `directory/${mailboxKey}.json`,
    /** A running restore's or download's marker: what a prune of the mailbox reads (maintenance/readerMarkers.ts). */
    readerMarker: (mailboxKey: string, readerId: string) => `mailboxes/${mailboxKey}/state/readers/${readerId}.json`,
    readerMarkersPrefix: (mailboxKey: string) => `mailboxes/${mailboxKey}/state/readers/`,
    /** Lease and owner record: one writer per mailbox (mailboxOwner.ts). */
    owner: (mailboxKey: string) => `mailboxes/${mailboxKey}/state/owner.json`,
    runMailboxResult: (runId: string, mailboxKey: string) => `runs/${runId}/${mailboxKey}/result.json`,
    runBatchResultsPrefix: (runId: string, mailboxKey: string) => `runs/${runId}/${mailboxKey}/results/`,
    runChanges: (runId: string, mailboxKey: string) => `runs/${runId}/${mailboxKey}/changes.ndjson.gz`,
  },
} as const;
