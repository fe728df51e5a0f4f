import type { RunReport } from '../backup/types.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { listRunIds, startOfId } from './runHistory.js';

/** The reports of backup runs started at or after `since`, oldest first (runs without a report are left out). */
export async function backupReportsSince(vault: VaultStore, since: Date): Promise<RunReport[]> {
  const from = since.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const ids = (await listRunIds(vault, 'backup')).filter((id) => startOfId(id)! >= from).reverse();
  const reports = await Promise.all(ids.map((id) => vault.readJson<RunReport>(layout.runReport(id))));
  return reports.filter((r): r is RunReport => r !== undefined);
}

/** Reports read at most for the warnings of the backup scope. */
const REPORTS_FOR_WARNINGS = 10;

/**
 * The warnings of the newest finished backup runs, newest first, down to the newest scheduled one (which backs up
 * the whole scope). Not the newest run's alone: a run still going has no report yet, and a backup by hand of one
 * mailbox says nothing of the scope's users without a mailbox, who would then show as stale.
 */
export async function recentScopeWarnings(vault: VaultStore): Promise<string[]> {
  const warnings: string[] = [];
  for (const runId of (await listRunIds(vault, 'backup')).slice(0, REPORTS_FOR_WARNINGS)) {
    const report = await vault.readJson<RunReport>(layout.runReport(runId));
    if (!report) continue;
    warnings.push(...(report.warnings ?? []));
    if (report.trigger === 'timer') break;
  }
  return warnings;
}
