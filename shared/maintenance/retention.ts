/**
 * Grandfather-father-son retention, per mailbox: every snapshot for `keepAllDays`, then the last snapshot of
 * each day for `dailyDays`, of each ISO week for `weeklyWeeks`, of each month for `monthlyMonths`. The newest
 * snapshot of a mailbox is always kept: it is the base of the next incremental run, and for a mailbox that left
 * scope it is the last copy there is.
 */
export interface RetentionPolicy {
  keepAllDays: number;
  dailyDays: number;
  weeklyWeeks: number;
  monthlyMonths: number;
}

export interface SnapshotRef {
  snapshotId: string;
  takenAt: string;
}

const DAY = 86_400_000;

function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  return `${d.getUTCFullYear()}-W${Math.ceil(((d.getTime() - yearStart) / DAY + 1) / 7)}`;
}

/** Which snapshots the policy keeps at `now`; the rest have expired. */
export function applyRetention<T extends SnapshotRef>(
  snapshots: T[],
  policy: RetentionPolicy,
  now: Date,
): { keep: T[]; expire: T[] } {
  const newestFirst = [...snapshots].sort(
    (a, b) => b.takenAt.localeCompare(a.takenAt) || b.snapshotId.localeCompare(a.snapshotId),
  );
  const kept = new Set<string>();
  if (newestFirst[0]) kept.add(newestFirst[0].snapshotId);
  const seen = { day: new Set<string>(), week: new Set<string>(), month: new Set<string>() };
  const monthsAgo = (date: Date) =>
    (now.getUTCFullYear() - date.getUTCFullYear()) * 12 + (now.getUTCMonth() - date.getUTCMonth());
  for (const snapshot of newestFirst) {
    const taken = new Date(snapshot.takenAt);
    const ageDays = (now.getTime() - taken.getTime()) / DAY;
    if (ageDays <= policy.keepAllDays) kept.add(snapshot.snapshotId);
    const day = snapshot.takenAt.slice(0, 10);
    if (ageDays <= policy.dailyDays && !seen.day.has(day)) {
      seen.day.add(day);
      kept.add(snapshot.snapshotId);
    }
    const week = isoWeek(taken);
    if (ageDays <= policy.weeklyWeeks * 7 && !seen.week.has(week)) {
      seen.week.add(week);
      kept.add(snapshot.snapshotId);
    }
    const month = snapshot.takenAt.slice(0, 7);
    if (monthsAgo(taken) < policy.monthlyMonths && !seen.month.has(month)) {
      seen.month.add(month);
      kept.add(snapshot.snapshotId);
    }
  }
  return {
    keep: newestFirst.filter((s) => kept.has(s.snapshotId)),
    expire: newestFirst.filter((s) => !kept.has(s.snapshotId)),
  };
}

/**
 * The oldest moment the policy keeps anything from at `now`: the start of the oldest day, week or month it still
 * keeps a snapshot of. Work older than this (run and restore artifacts) is past the policy.
 */
export function retentionHorizon(policy: RetentionPolicy, now: Date): Date {
  const days = Math.max(policy.keepAllDays, policy.dailyDays, policy.weeklyWeeks * 7);
  const byAge = now.getTime() - days * DAY;
  // applyRetention keeps a month while monthsAgo < monthlyMonths: back to the first of the oldest such month.
  // With no monthly rule this is the first of next month, later than byAge, so the minimum needs no case for it.
  const byMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - (policy.monthlyMonths - 1), 1);
  return new Date(Math.min(byAge, byMonth));
}
