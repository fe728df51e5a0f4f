import type { RunReport } from '../backup/types.js';
import { judgeDeletions, SMOOTHING } from '../massDeletion.js';

/** A mailbox's run whose deletions or changes jumped far above its usual rate. */
export interface UnusualNight {
  runId: string;
  startedAt: string;
  upn: string;
  mailboxId: string;
  removed: number;
  changed: number;
  usualRemoved: number | null;
  usualChanged: number | null;
  massDeletion: boolean;
  massChange: boolean;
}

interface Usual {
  runs: number;
  usual: number;
}

/**
 * Replays the mass-deletion rule (shared/massDeletion.ts) over the given runs, oldest first, for deletions and for
 * changes alike (ransomware encrypting items changes them rather than deleting them): a night is flagged when
 * it is far above the mailbox's moving average of the runs before it. A flagged night does not move the average.
 * A mailbox's first run among those given only starts its history: it may be its first backup, in which every
 * item counts as changed.
 */
export function unusualNights(reports: RunReport[]): UnusualNight[] {
  const removedHistory = new Map<string, Usual>();
  const changedHistory = new Map<string, Usual>();
  const flagged: UnusualNight[] = [];
  const seen = new Set<string>();
  for (const report of reports) {
    for (const m of report.mailboxes) {
      if (m.status === 'Failed' || m.skippedFor) continue;
      if (!seen.has(m.mailboxId)) {
        seen.add(m.mailboxId);
        continue;
      }
      const before = m.items.inSnapshot + m.items.removed;
      const deletion = judgeAndRecord(removedHistory, m.mailboxId, m.items.removed, before);
      const change = judgeAndRecord(changedHistory, m.mailboxId, m.items.changed, before);
      if (!deletion.massDeletion && !change.massDeletion) continue;
      flagged.push({
        runId: report.runId,
        startedAt: report.startedAt,
        upn: m.upn,
        mailboxId: m.mailboxId,
        removed: m.items.removed,
        changed: m.items.changed,
        usualRemoved: deletion.usualRemoved,
        usualChanged: change.usualRemoved,
        massDeletion: deletion.massDeletion,
        massChange: change.massDeletion,
      });
    }
  }
  return flagged;
}

function judgeAndRecord(histories: Map<string, Usual>, mailboxId: string, count: number, itemsBefore: number) {
  const history = histories.get(mailboxId);
  const check = judgeDeletions(count, itemsBefore, history && { runs: history.runs, usualRemoved: history.usual });
  const usual = history?.usual ?? 0;
  histories.set(mailboxId, {
    runs: (history?.runs ?? 0) + 1,
    usual: check.massDeletion ? usual : history ? usual + SMOOTHING * (count - usual) : count,
  });
  return check;
}
