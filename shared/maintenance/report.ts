import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { PruneResult } from './prune.js';
import type { VerifyMode, VerifyResult } from './verify.js';

export interface MaintenanceReport {
  id: string;
  trigger: 'timer' | 'http';
  startedAt: string;
  finishedAt: string;
  /** CompletedWithErrors when verification found damage or a mailbox could not be processed. */
  status: 'Completed' | 'CompletedWithErrors';
  prune: null | {
    dryRun: boolean;
    mailboxes: PruneResult[];
    totals: { snapshotsExpired: number; versionsDeleted: number; bytesFreed: number; immutableLeft: number };
  };
  verify: null | {
    mode: VerifyMode;
    mailboxes: VerifyResult[];
    totals: { snapshotsChecked: number; entriesChecked: number; versionsHashed: number; problems: number };
  };
  errors: Array<{ mailboxKey: string; step: 'prune' | 'verify'; message: string }>;
}

export async function writeMaintenanceReport(
  vault: VaultStore,
  input: {
    id: string;
    trigger: 'timer' | 'http';
    startedAt: string;
    prune: { dryRun: boolean } | null;
    verify: { mode: VerifyMode } | null;
    mailboxKeys: string[];
  },
  now: () => Date = () => new Date(),
): Promise<MaintenanceReport> {
  const errors: MaintenanceReport['errors'] = [];
  const gather = async <T>(part: 'prune' | 'verify'): Promise<T[]> => {
    const out: T[] = [];
    for (const key of input.mailboxKeys) {
      const result = await vault.readJson<T | { error: string }>(layout.maintenanceResult(input.id, part, key));
      if (!result) errors.push({ mailboxKey: key, step: part, message: 'no result was recorded' });
      else if ((result as { error?: string }).error !== undefined)
        errors.push({ mailboxKey: key, step: part, message: (result as { error: string }).error });
      else out.push(result as T);
    }
    return out;
  };
  const pruned = input.prune ? await gather<PruneResult>('prune') : [];
  const verified = input.verify ? await gather<VerifyResult>('verify') : [];
  const problems = verified.reduce((s, v) => s + v.problems.length, 0);
  const report: MaintenanceReport = {
    id: input.id,
    trigger: input.trigger,
    startedAt: input.startedAt,
    finishedAt: now().toISOString(),
    status: problems || errors.length ? 'CompletedWithErrors' : 'Completed',
    prune: input.prune
      ? {
          dryRun: input.prune.dryRun,
          mailboxes: pruned,
          totals: {
            snapshotsExpired: pruned.reduce((s, p) => s + p.snapshotsExpired.length, 0),
            versionsDeleted: pruned.reduce((s, p) => s + p.versionsDeleted, 0),
            bytesFreed: pruned.reduce((s, p) => s + p.bytesFreed, 0),
            immutableLeft: pruned.reduce((s, p) => s + p.immutable.length, 0),
          },
        }
      : null,
    verify: input.verify
      ? {
          mode: input.verify.mode,
          mailboxes: verified,
          totals: {
            snapshotsChecked: verified.reduce((s, v) => s + v.snapshotsChecked, 0),
            entriesChecked: verified.reduce((s, v) => s + v.entriesChecked, 0),
            versionsHashed: verified.reduce((s, v) => s + v.versionsHashed, 0),
            problems,
          },
        }
      : null,
    errors,
  };
  await vault.writeJson(layout.maintenanceReport(input.id), report);
  return report;
}
