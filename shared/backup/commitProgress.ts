import type { ManifestDraft } from '../vault/manifestWriter.js';
import type { ManifestFolder } from '../vault/records.js';
import type { SortProgress } from './commitInputs.js';
import type { ChangeFacts, ManifestTally } from './commitMerge.js';
import type { FolderCount } from './coverageReport.js';

/**
 * Where a commit in slices stands (`layout.runCommitProgress`), written at the end of each slice but the last:
 * what the first slices read and sorted (the change list's facts, the names of the sorted runs, how far the
 * reading has got while it lasts), and how far the merge has got (the last key it resolved, the manifest's staged blocks, the tally up to that key). JSON throughout;
 * its size grows with folders, failures and the manifest's chunks (one entry per 1,000 items), not with items.
 */
export interface CommitProgress {
  /** The last slice whose work this records. */
  slice: number;
  /** The snapshot the merge builds on, fixed by slice 0. */
  previousId: string | null;
  facts: StoredFacts;
  throttle: { throttledResponses: number; throttleWaitInMs: number };
  runs: { changes: string[]; outcomes: string[]; previous?: string[] };
  /** Present while the inputs are still being read and sorted, slice by slice; the merge starts after. */
  sort?: SortProgress;
  merge: MergeProgress;
}

export interface MergeProgress {
  /** The last key resolved; absent before the merge starts. */
  after?: string;
  /** Whether the merge so far looked up each version it references (see withVanished). */
  recheck: boolean;
  draft: ManifestDraft;
  tally: StoredTally;
}

/** The change list's facts as JSON: its maps and sets as arrays. */
type StoredFacts = Omit<ChangeFacts, 'folders' | 'resynced' | 'folderCounts'> & {
  folders: ManifestFolder[];
  resynced: string[];
  folderCounts: Array<[string, FolderCount]>;
};

/** The tally as JSON: its maps and sets as arrays. */
type StoredTally = Omit<ManifestTally, 'foldersWithFailures' | 'inFolder' | 'missingFailedIn'> & {
  foldersWithFailures: string[];
  inFolder: Array<[string, number]>;
  missingFailedIn: Array<[string, number]>;
};

export function storedFacts(facts: ChangeFacts): StoredFacts {
  return {
    ...facts,
    folders: [...facts.folders.values()],
    resynced: [...facts.resynced],
    folderCounts: [...facts.folderCounts],
  };
}

export function factsFrom(stored: StoredFacts): ChangeFacts {
  return {
    ...stored,
    folders: new Map(stored.folders.map((folder) => [folder.id, folder])),
    resynced: new Set(stored.resynced),
    folderCounts: new Map(stored.folderCounts),
  };
}

export function storedTally(tally: ManifestTally): StoredTally {
  return {
    ...tally,
    foldersWithFailures: [...tally.foldersWithFailures],
    inFolder: [...tally.inFolder],
    missingFailedIn: [...tally.missingFailedIn],
  };
}

export function tallyFrom(stored: StoredTally): ManifestTally {
  return {
    ...stored,
    foldersWithFailures: new Set(stored.foldersWithFailures),
    inFolder: new Map(stored.inFolder),
    missingFailedIn: new Map(stored.missingFailedIn),
  };
}
