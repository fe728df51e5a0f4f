export interface HostStats {
  episodes: number;
  replayedEvents: number;
  activities: number;
  maxInflightActivities: number;
  /** Time spent replaying orchestrators, and running each activity (by name). */
  episodeMs: number;
  activityMs: Record<string, { count: number; totalMs: number; maxMs: number }>;
  /** Activities running now, by name (what a memory peak coincides with, for the benches). */
  runningByName: Record<string, number>;
}

export function emptyHostStats(): HostStats {
  return {
    episodes: 0,
    replayedEvents: 0,
    activities: 0,
    maxInflightActivities: 0,
    episodeMs: 0,
    activityMs: {},
    runningByName: {},
  };
}

export function recordActivityTime(stats: HostStats, activity: string, elapsedMs: number): void {
  const timing = (stats.activityMs[activity] ??= { count: 0, totalMs: 0, maxMs: 0 });
  timing.count++;
  timing.totalMs += elapsedMs;
  timing.maxMs = Math.max(timing.maxMs, elapsedMs);
}
