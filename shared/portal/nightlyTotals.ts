import type { RunReport } from '../backup/types.js';

/** What the backups of one night (a UTC day) added to the vault: the dashboard's chart. */
export interface NightTotals {
  date: string;
  runs: number;
  itemsExported: number;
  bytesExported: number;
  itemsFailed: number;
}

/** One entry per day from `since` to `until` (days without a run at zero, so the chart shows the gap). */
export function nightlyTotals(reports: RunReport[], since: Date, until: Date): NightTotals[] {
  const nights = new Map<string, NightTotals>();
  for (let day = startOfDay(since); day <= until.getTime(); day += 86_400_000) {
    const date = new Date(day).toISOString().slice(0, 10);
    nights.set(date, { date, runs: 0, itemsExported: 0, bytesExported: 0, itemsFailed: 0 });
  }
  for (const report of reports) {
    const night = nights.get(report.startedAt.slice(0, 10));
    if (!night) continue;
    night.runs++;
    night.itemsExported += report.totals.itemsExported;
    night.bytesExported += report.totals.bytesExported;
    night.itemsFailed += report.totals.itemsFailed;
  }
  return [...nights.values()];
}

function startOfDay(date: Date): number {
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
}
