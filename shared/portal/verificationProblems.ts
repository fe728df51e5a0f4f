import type { MaintenanceReport } from '../maintenance/report.js';
import type { VerifyProblem } from '../maintenance/verify.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { listRunIds } from './runHistory.js';

/** Maintenance runs looked back through for the newest one that verified. */
const RUNS_LOOKED_AT = 30;

export interface VerificationStatus {
  /** The newest maintenance run that verified the vault; null when none has. */
  maintenanceId: string | null;
  finishedAt: string | null;
  mode: string | null;
  snapshotsChecked: number;
  problems: Array<VerifyProblem & { upn: string | null }>;
}

/** What the newest verification found: every damaged or missing blob it named. */
export async function latestVerification(vault: VaultStore): Promise<VerificationStatus> {
  for (const id of (await listRunIds(vault, 'maintenance')).slice(0, RUNS_LOOKED_AT)) {
    const report = await vault.readJson<MaintenanceReport>(layout.maintenanceReport(id));
    if (!report?.verify) continue;
    return {
      maintenanceId: id,
      finishedAt: report.finishedAt,
      mode: report.verify.mode,
      snapshotsChecked: report.verify.totals.snapshotsChecked,
      problems: report.verify.mailboxes.flatMap((m) => m.problems.map((p) => ({ ...p, upn: m.upn }))),
    };
  }
  return { maintenanceId: null, finishedAt: null, mode: null, snapshotsChecked: 0, problems: [] };
}
