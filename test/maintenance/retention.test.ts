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
  // Decided inside each test (not while the file loads), so mutation testing sees which test reaches what.
  const decide = () => {
    const { keep, expire } = applyRetention(snapshots, policy, now);
    return { keep, expire, kept: new Set(keep.map((s) => s.snapshotId)) };
  };

  it('keeps everything of the last 7 days', () => {
    const { kept } = decide();
    for (const s of snapshots)
      if (now.getTime() - Date.parse(s.takenAt) <= 7 * 86_400_000) expect(kept.has(s.snapshotId), s.takenAt).toBe(true);
  });

  it('keeps exactly one snapshot a day for 30 days (the day’s last), one a week for 12 weeks, one a month for 12 months', () => {
    const { keep, expire, kept } = decide();
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

  it('keeps the newest by id when two snapshots share their time, and decides nothing for no snapshots', () => {
    const tied = [
      { snapshotId: 'z', takenAt: '2020-01-01T02:00:00Z' },
      { snapshotId: 'a', takenAt: '2020-02-01T02:00:00Z' },
      { snapshotId: 'b', takenAt: '2020-02-01T02:00:00Z' },
    ];
    const { keep, expire } = applyRetention(tied, policy, now);
    expect(keep.map((s) => s.snapshotId)).toEqual(['b']);
    expect(expire.map((s) => s.snapshotId)).toEqual(['a', 'z']);
    expect(applyRetention([], policy, now)).toEqual({ keep: [], expire: [] });
  });
});

describe('each rule of the policy on its own', () => {
  const now = new Date('2026-11-23T12:00:00Z'); // a Monday
  const none = { keepAllDays: 0, dailyDays: 0, weeklyWeeks: 0, monthlyMonths: 0 };
  const at = (iso: string) => ({ snapshotId: iso, takenAt: iso });
  const kept = (snapshots: Array<{ snapshotId: string; takenAt: string }>, policy: typeof none) =>
    applyRetention(snapshots, policy, now).keep.map((s) => s.snapshotId);
  const newest = at('2026-11-23T11:00:00.000Z');

  it('keeps every snapshot up to exactly keepAllDays old, and none older', () => {
    const edge = at('2026-11-16T12:00:00.000Z'); // exactly 7 days
    const past = at('2026-11-16T11:59:59.000Z');
    const sameDay = at('2026-11-16T12:30:00.000Z');
    expect(kept([newest, sameDay, edge, past], { ...none, keepAllDays: 7 })).toEqual(
      [newest, sameDay, edge].map((s) => s.snapshotId),
    );
  });

  it('keeps the last snapshot of each day up to exactly dailyDays old', () => {
    const lastOfDay = at('2026-11-20T20:00:00.000Z');
    const earlierThatDay = at('2026-11-20T08:00:00.000Z');
    const edge = at('2026-11-09T12:00:00.000Z'); // exactly 14 days
    const past = at('2026-11-09T11:00:00.000Z');
    expect(kept([newest, earlierThatDay, lastOfDay, edge, past], { ...none, dailyDays: 14 })).toEqual(
      [newest, lastOfDay, edge].map((s) => s.snapshotId),
    );
  });

  it('keeps the last snapshot of each ISO week (Monday to Sunday, across a new year) up to weeklyWeeks', () => {
    const daily = Array.from({ length: 28 }, (_, d) =>
      at(new Date(now.getTime() - d * 86_400_000 - 3_600_000).toISOString()),
    );
    // This Monday (newest), then each Sunday, back to 1 November (22 days, within 4 weeks).
    expect(kept(daily, { ...none, weeklyWeeks: 4 })).toEqual(
      ['2026-11-23', '2026-11-22', '2026-11-15', '2026-11-08', '2026-11-01'].map((d) => `${d}T11:00:00.000Z`),
    );
    const edge = at('2026-11-09T12:00:00.000Z'); // exactly 2 weeks, its week's last
    expect(kept([newest, edge, at('2026-11-02T12:00:00.000Z')], { ...none, weeklyWeeks: 2 })).toEqual([
      newest.snapshotId,
      edge.snapshotId,
    ]);
    // Weeks run Monday to Sunday whatever weekday the year began on (2025: a Wednesday; 2027: a Friday).
    for (const monday of ['2025-11-24', '2027-11-22']) {
      const end = new Date(`${monday}T12:00:00Z`);
      const days = Array.from({ length: 8 }, (_, d) =>
        at(new Date(end.getTime() - d * 86_400_000 - 3_600_000).toISOString()),
      );
      const sunday = new Date(end.getTime() - 86_400_000 - 3_600_000).toISOString();
      expect(
        applyRetention(days, { ...none, weeklyWeeks: 1 }, end).keep.map((s) => s.snapshotId),
        monday,
      ).toEqual([days[0]!.snapshotId, sunday]);
    }
    // 29 December 2025 to 4 January 2026 is one ISO week (2026-W01).
    const january = new Date('2026-01-10T12:00:00Z');
    const turn = ['2026-01-05', '2026-01-04', '2026-01-01', '2025-12-29', '2025-12-28'].map((d) =>
      at(`${d}T02:00:00.000Z`),
    );
    expect(
      applyRetention(turn, { ...none, weeklyWeeks: 4 }, january).keep.map((s) => s.snapshotId.slice(0, 10)),
    ).toEqual(['2026-01-05', '2026-01-04', '2025-12-28']);
  });

  it('keeps the last snapshot of each calendar month for monthlyMonths, counting across a new year', () => {
    const february = new Date('2026-02-15T12:00:00Z');
    const snapshots = ['2026-02-10', '2026-02-01', '2026-01-31', '2026-01-02', '2025-12-31', '2025-11-30'].map((d) =>
      at(`${d}T02:00:00.000Z`),
    );
    expect(
      applyRetention(snapshots, { ...none, monthlyMonths: 3 }, february).keep.map((s) => s.snapshotId.slice(0, 10)),
    ).toEqual(['2026-02-10', '2026-01-31', '2025-12-31']);
  });

  it('splits what it keeps and what expires, each newest first', () => {
    const old = at('2026-01-01T00:00:00.000Z');
    const older = at('2025-01-01T00:00:00.000Z');
    const result = applyRetention([older, newest, old], none, now);
    expect(result.keep.map((s) => s.snapshotId)).toEqual([newest.snapshotId]);
    expect(result.expire.map((s) => s.snapshotId)).toEqual([old.snapshotId, older.snapshotId]);
  });
});
