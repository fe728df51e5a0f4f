/** A folder's count as planning read it (a `folderCount` change record). */
export interface FolderCount {
  exchangeCount: number;
  missedByDelta: number;
  arrivedDuringRun: number;
}

/** One folder where the snapshot and Exchange's count differ, or where delta missed items. */
export interface FolderCoverage {
  folderPath: string;
  /** totalItemCount as Exchange reported it before the folder was read (read again by listing when short). */
  exchangeCount: number;
  inSnapshot: number;
  /** exchangeCount − inSnapshot: positive when the snapshot holds fewer. */
  difference: number;
  /** Items no delta round reported, found by listing the folder and backed up in this run. */
  missedByDelta: number;
  /** Items changed or added after the run started: in the next snapshot. */
  arrivedDuringRun: number;
  /** New items of this run that could not be stored (each named in `failures`). */
  failed: number;
  /** Items the snapshot lacks that nothing above accounts for. */
  unexplained: number;
  note: string;
}

/** The proof of coverage in a mailbox's report. */
export interface CoverageSummary {
  /** Folders whose snapshot items were compared with Exchange's count. */
  foldersCompared: number;
  /** Only the folders that differ or where delta missed items. */
  folders: FolderCoverage[];
  /** Folders with items whose count Exchange did not give, so they were not compared (absent when none). */
  notCompared?: Array<{ folderPath: string; reason: string }>;
  /** Set when the counts could not be read: the snapshot's completeness is then unproven. */
  unchecked?: string;
}

export interface FolderTallies {
  counts: Map<string, FolderCount>;
  inSnapshot: Map<string, number>;
  /** Failed new items per folder (a failed change whose older version stays is not missing). */
  failed: Map<string, number>;
  pathOf(folderId: string): string;
  /** Folders that failed outright: named elsewhere, not compared. */
  failedFolders: Set<string>;
}

/**
 * Compares, folder by folder, what the snapshot holds with what Exchange counted. A folder is a problem (the
 * mailbox is not `Completed`) when delta missed items there, or when the snapshot lacks items that neither
 * named failures nor arrivals during the run account for.
 */
export function compareCoverage(
  tallies: FolderTallies,
  unchecked?: string,
  notCompared: Array<{ folderId: string; reason: string }> = [],
): { summary: CoverageSummary; problemFolderIds: Set<string> } {
  const folders: FolderCoverage[] = [];
  const problemFolderIds = new Set<string>();
  let foldersCompared = 0;
  for (const [folderId, count] of tallies.counts) {
    if (tallies.failedFolders.has(folderId)) continue;
    foldersCompared++;
    const inSnapshot = tallies.inSnapshot.get(folderId) ?? 0;
    const failed = tallies.failed.get(folderId) ?? 0;
    const difference = count.exchangeCount - inSnapshot;
    if (difference === 0 && count.missedByDelta === 0) continue;
    const unexplained = Math.max(0, difference - failed - count.arrivedDuringRun);
    const entry = { ...count, inSnapshot, difference, failed, unexplained };
    folders.push({ folderPath: tallies.pathOf(folderId), ...entry, note: noteFor(entry) });
    if (unexplained > 0 || count.missedByDelta > 0) problemFolderIds.add(folderId);
  }
  const uncompared = notCompared.map(({ folderId, reason }) => ({ folderPath: tallies.pathOf(folderId), reason }));
  const summary: CoverageSummary = { foldersCompared, folders };
  if (uncompared.length > 0) summary.notCompared = uncompared;
  if (unchecked) summary.unchecked = unchecked;
  return { summary, problemFolderIds };
}

/** Folders the report counts as problems: delta missed items, or items are missing for no named reason. */
export function coverageProblems(summary: CoverageSummary): number {
  return summary.folders.filter((f) => f.unexplained > 0 || f.missedByDelta > 0).length + (summary.unchecked ? 1 : 0);
}

function noteFor(f: Omit<FolderCoverage, 'folderPath' | 'note'>): string {
  const parts: string[] = [];
  if (f.missedByDelta > 0)
    parts.push(
      `Graph's delta did not report ${f.missedByDelta} item(s) Exchange counts here; they were found by listing the folder and backed up, and the folder is read in full next run`,
    );
  if (f.difference < 0)
    parts.push(
      `${-f.difference} item(s) more than Exchange counted before the run read the folder: they arrived meanwhile`,
    );
  if (f.failed > 0 && f.difference > 0) parts.push(`${f.failed} item(s) could not be stored (named in failures)`);
  if (f.arrivedDuringRun > 0 && f.difference > 0)
    parts.push(`${f.arrivedDuringRun} item(s) arrived or changed during the run: in the next snapshot`);
  if (f.unexplained > 0)
    parts.push(
      `${f.unexplained} item(s) Exchange counts are not in the snapshot for no known reason; the folder is read in full next run`,
    );
  return parts.join('; ');
}
