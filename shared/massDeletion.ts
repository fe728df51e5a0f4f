import type { MailboxRunResult } from './backup/types.js';
import { layout } from './vault/layout.js';
import type { VaultStore } from './vault/vaultStore.js';

/**
 * Is a night's deletion count far above the mailbox's usual rate? Each mailbox keeps a small record of how many
 * items its runs usually see deleted (a moving average, in the vault beside its delta state); a run is flagged
 * when it removed at least MIN_REMOVED items and TIMES_USUAL times the usual count. Until a mailbox has
 * MIN_HISTORY runs behind it, a share of the mailbox stands in for its history. A flagged run does not move the
 * average, so a second bad night is flagged too.
 */
export const MASS_DELETION = { MIN_REMOVED: 50, TIMES_USUAL: 10, MIN_HISTORY: 3, SHARE_WITHOUT_HISTORY: 0.2 } as const;

/** Weight of the newest run in the average: about the last week of nightly runs counts. */
export const SMOOTHING = 0.2;

export interface DeletionHistory {
  runs: number;
  usualRemoved: number;
  lastRunId: string;
  /** What the last run was judged, returned again if its activity runs twice. */
  lastCheck: DeletionCheck;
}

export interface DeletionCheck {
  removed: number;
  /** The mailbox's usual deletions per run; null until it has enough history. */
  usualRemoved: number | null;
  massDeletion: boolean;
}

const historyBlob = (mailboxId: string) => `${layout.mailboxPrefix(mailboxId)}state/deletions.json`;

export function judgeDeletions(
  removed: number,
  itemsBefore: number,
  history?: Pick<DeletionHistory, 'runs' | 'usualRemoved'>,
): DeletionCheck {
  const { MIN_REMOVED, TIMES_USUAL, MIN_HISTORY, SHARE_WITHOUT_HISTORY } = MASS_DELETION;
  const usualRemoved = history && history.runs >= MIN_HISTORY ? history.usualRemoved : null;
  const far =
    usualRemoved === null
      ? removed >= SHARE_WITHOUT_HISTORY * itemsBefore
      : removed >= TIMES_USUAL * Math.max(usualRemoved, 1);
  return { removed, usualRemoved, massDeletion: removed >= MIN_REMOVED && far };
}

/** Judges one mailbox's run and records it in the mailbox's history (once per run: activities may repeat). */
export async function checkDeletions(
  vault: VaultStore,
  runId: string,
  result: MailboxRunResult,
): Promise<DeletionCheck> {
  const { removed, inSnapshot } = result.items;
  const blob = historyBlob(result.mailboxId);
  const history = await vault.readJson<DeletionHistory>(blob);
  if (history?.lastRunId === runId) return history.lastCheck;
  const check = judgeDeletions(removed, inSnapshot + removed, history);
  const usual = history?.usualRemoved ?? 0;
  const next: DeletionHistory = {
    runs: (history?.runs ?? 0) + 1,
    usualRemoved: check.massDeletion ? usual : history ? usual + SMOOTHING * (removed - usual) : removed,
    lastRunId: runId,
    lastCheck: check,
  };
  await vault.writeJson(blob, next);
  return check;
}
