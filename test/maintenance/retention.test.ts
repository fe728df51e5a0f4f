import { describe, expect, it } from 'vitest';
import { applyRetention } from '../../shared/maintenance/retention.js';

/** Nightly snapshots (02:00) for a year and a half, plus a few extra ones on some days. */
function history(days: number, end: Date) {
  const out: Array<{ snapshotId: string; takenAt: string }> = [];
  for (let d = 0; d < days; d++) {
    const at = new Date(end.getTime() - d * 86_400_000);
    at.setUTCHours(2, 0, 0, 0);
    out.push({ snapshotId: `n${d}`, takenAt: at.toISOString() });
    if (d % 10 === 0) out.push({ snapshotId: `x${d}`, takenAt: new Date(at.getTime() + 8 * 3600_000).toISOString() });
  }
  return out;
}

describe('retention', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  const policy = { keepAllDays: 7, dailyDays: 30, weeklyWeeks: 12, monthlyMonths: 12 };
  const snapshots = history(540, now);
  const { keep, expire } = applyRetention(snapshots, policy, now);
  const kept = new Set(keep.map((s) => s.snapshotId));

  it('keeps everything of the last 7 days', () => {
    for (const s of snapshots)
      if (now.getTime() - Date.parse(s.takenAt) <= 7 * 86_400_000) expect(kept.has(s.snapshotId), s.takenAt).toBe(true);
  });

  it('keeps exactly one snapshot a day for 30 days (the day’s last), one a week for 12 weeks, one a month for 12 months', () => {
    const byDay = new Map<string, string[]>();
    for (const s of keep)
      byDay.set(s.takenAt.slice(0, 10), [...(byDay.get(s.takenAt.slice(0, 10)) ?? []), s.snapshotId]);
    // Day 10 had two snapshots; older than 7 days, only the later one (x10, 10:00) stays.
    expect(kept.has('x10')).toBe(true);
    expect(kept.has('n10')).toBe(false);
    const olderThan30 = keep.filter((s) => now.getTime() - Date.parse(s.takenAt) > 30 * 86_400_000);
    const weeks = olderThan30.filter((s) => now.getTime() - Date.parse(s.takenAt) <= 84 * 86_400_000);
    // Weekly: one per ISO week between day 30 and day 84 (a week straddling the boundary may add one).
    expect(weeks.length).toBeGreaterThanOrEqual(7);
    expect(weeks.length).toBeLessThanOrEqual(9);
    for (const [day, ids] of byDay)
      if (now.getTime() - Date.parse(`${day}T12:00:00Z`) > 7 * 86_400_000) expect(ids.length, day).toBe(1);
    const months = new Set(keep.map((s) => s.takenAt.slice(0, 7)));
    expect([...months].sort()[0]).toBe('2025-12');
    expect(keep.every((s) => s.takenAt.slice(0, 7) >= '2025-12')).toBe(true);
    expect(keep.length + expire.length).toBe(snapshots.length);
  });

  it('keeps the newest snapshot of a mailbox whatever its age (the last copy of someone who left)', () => {
    const old = [
      { snapshotId: 'a', takenAt: '2020-01-01T02:00:00Z' },
      { snapshotId: 'b', takenAt: '2020-02-01T02:00:00Z' },
    ];
    expect(applyRetention(old, policy, now).keep.map((s) => s.snapshotId)).toEqual(['b']);
  });
});
