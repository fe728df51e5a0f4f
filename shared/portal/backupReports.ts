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
