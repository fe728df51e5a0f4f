/**
 * How a piece of work ended, in one vocabulary for runs, snapshots, restores and maintenance. Partial failure
 * is `CompletedWithErrors`, never `Completed`.
 */
export type OutcomeStatus = 'Completed' | 'CompletedWithErrors' | 'Failed';

/** A restore can also be stopped by an admin. */
export type RestoreStatus = OutcomeStatus | 'Canceled';

/** A committed snapshot exists, so it did not fail; it may lack items a run could not back up. */
export type SnapshotStatus = Exclude<OutcomeStatus, 'Failed'>;

/** `Completed` when nothing failed. */
export function statusFrom(failures: number): 'Completed' | 'CompletedWithErrors' {
  return failures > 0 ? 'CompletedWithErrors' : 'Completed';
}
