import { readRunReportPage } from '../backup/report.js';
import type { RunReport } from '../backup/types.js';
import { judgeDeletions, SMOOTHING } from '../massDeletion.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { windowedMap } from '../windowedMap.js';

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
  const finder = new UnusualNightFinder();
  for (const report of reports) finder.add(report);
  return finder.flagged;
}

/**
 * The same, reading a paged report's mailboxes from its pages (a run of more than one page lists in its summary
 * only the mailboxes that did not complete): one page in memory at a time, and a few numbers per mailbox.
 */
export async function unusualNightsIn(vault: VaultStore, reports: RunReport[]): Promise<UnusualNight[]> {
  const finder = new UnusualNightFinder();
  for (const report of reports) {
    if (!report.pages) {
      finder.add(report);
      continue;
    }
    const pages = Array.from({ length: report.pages.count }, (_, page) => page);
    const read = windowedMap(pages, PAGES_READ_AT_ONCE, (page) => readRunReportPage(vault, report.runId, page));
    for await (const { mailboxes } of read) finder.add({ ...report, mailboxes });
  }
  return finder.flagged;
}

/** Report pages read ahead while one is judged. */
const PAGES_READ_AT_ONCE = 4;

/** Runs' per-mailbox results, oldest run first (a run may come in several parts, its pages, in order). */
class UnusualNightFinder {
  readonly flagged: UnusualNight[] = [];
  private readonly removedHistory = new Map<string, Usual>();
  private readonly changedHistory = new Map<string, Usual>();
  private readonly seen = new Set<string>();

  add(run: Pick<RunReport, 'runId' | 'startedAt' | 'mailboxes'>): void {
    for (const m of run.mailboxes) {
      if (m.status === 'Failed' || m.skippedFor) continue;
      if (!this.seen.has(m.mailboxId)) {
        this.seen.add(m.mailboxId);
        continue;
      }
      const before = m.items.inSnapshot + m.items.removed;
      const deletion = judgeAndRecord(this.removedHistory, m.mailboxId, m.items.removed, before);
      const change = judgeAndRecord(this.changedHistory, m.mailboxId, m.items.changed, before);
      if (!deletion.massDeletion && !change.massDeletion) continue;
      this.flagged.push({
        runId: run.runId,
        startedAt: run.startedAt,
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
