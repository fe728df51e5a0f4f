import { describe, expect, it } from 'vitest';
import { startOfWork } from '../../shared/maintenance/artifacts.js';
import { applyRetention, retentionHorizon } from '../../shared/maintenance/retention.js';

/** The policy's horizon: work that started before it (run and restore artifacts) is past the policy. */

const policy = { keepAllDays: 7, dailyDays: 14, weeklyWeeks: 6, monthlyMonths: 4 };
const now = new Date('2026-11-23T05:30:00Z');
const OLD = '20260601T020000Z';

describe('the retention horizon', () => {
  it('is the start of the oldest month, week or day the policy still keeps a snapshot of', () => {
    // Monthly for 4 months reaches further back (1 August) than 6 weeks (12 October).
    expect(retentionHorizon(policy, now).toISOString()).toBe('2026-08-01T00:00:00.000Z');
    const noMonths = { ...policy, monthlyMonths: 0 };
    expect(retentionHorizon(noMonths, now).toISOString()).toBe('2026-10-12T05:30:00.000Z');
    expect(retentionHorizon({ ...noMonths, dailyDays: 60 }, now).toISOString()).toBe('2026-09-24T05:30:00.000Z');
  });

  it('is never later than a snapshot the policy keeps by age (a daily history of a year)', () => {
    const history = Array.from({ length: 365 }, (_, d) => ({
      snapshotId: `n${d}`,
      takenAt: new Date(now.getTime() - d * 86_400_000 - 3 * 3600_000).toISOString(),
    }));
    for (const p of [
      policy,
      { ...policy, monthlyMonths: 0 },
      { keepAllDays: 3, dailyDays: 0, weeklyWeeks: 0, monthlyMonths: 1 },
    ]) {
      const horizon = retentionHorizon(p, now);
      const { keep, expire } = applyRetention(history, p, now);
      for (const s of keep.slice(1)) expect(s.takenAt >= horizon.toISOString(), `${s.takenAt} kept`).toBe(true);
      expect(expire.every((s) => s.takenAt < now.toISOString())).toBe(true);
    }
  });

  it('reads the start of work from the ids the triggers make', () => {
    expect(startOfWork(`backup-${OLD}-1a2b3c4d`)?.toISOString()).toBe('2026-06-01T02:00:00.000Z');
    expect(startOfWork(`backup-${OLD}`)?.toISOString()).toBe('2026-06-01T02:00:00.000Z');
    expect(startOfWork(`restore-20261123T150405Z-1a2b3c4d`)?.toISOString()).toBe('2026-11-23T15:04:05.000Z');
    expect(startOfWork(`maintenance-${OLD}`)?.toISOString()).toBe('2026-06-01T02:00:00.000Z');
    expect(startOfWork('something-else')).toBeUndefined();
    expect(startOfWork(`old-backup-${OLD}`)).toBeUndefined();
    expect(startOfWork(`backup-${OLD}x`)).toBeUndefined();
  });
});
