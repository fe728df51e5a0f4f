import { statusFrom } from '../status.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { ArtifactsResult } from './artifacts.js';
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
    /** Run, restore and download artifacts past the policy; null when that step failed (named in `errors`). */
    artifacts: ArtifactsResult | null;
  };
  verify: null | {
    mode: VerifyMode;
    mailboxes: VerifyResult[];
    totals: { snapshotsChecked: number; entriesChecked: number; versionsHashed: number; problems: number };
  };
  /** `step: 'artifacts'` (mailboxKey `vault`): the run, restore and download artifacts could not be expired. */
  errors: Array<{ mailboxKey: string; step: 'prune' | 'verify' | 'artifacts'; message: string }>;
}

type MaintenanceErrors = MaintenanceReport['errors'];

/**
 * The run's report from every mailbox's recorded results. A mailbox with no result, or an error in its place,
 * is named in `errors`, never left out.
 */
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
  const errors: MaintenanceErrors = [];
  const pruned = input.prune ? await gatherResults<PruneResult>(vault, input, 'prune', errors) : [];
  const verified = input.verify ? await gatherResults<VerifyResult>(vault, input, 'verify', errors) : [];
  const verify = input.verify ? verifySection(input.verify.mode, verified) : null;
  const artifacts = input.prune ? await gatherArtifacts(vault, input.id, errors) : null;
  const report: MaintenanceReport = {
    id: input.id,
    trigger: input.trigger,
    startedAt: input.startedAt,
    finishedAt: now().toISOString(),
    status: statusFrom((verify?.totals.problems ?? 0) + errors.length),
    prune: input.prune ? { ...pruneSection(input.prune.dryRun, pruned), artifacts } : null,
    verify,
    errors,
  };
  await vault.writeJson(layout.maintenanceReport(input.id), report);
  return report;
}

/** Each mailbox's result of one step; a missing result or a recorded error goes to `errors` instead. */
async function gatherResults<T>(
  vault: VaultStore,
  input: { id: string; mailboxKeys: string[] },
  step: 'prune' | 'verify',
  errors: MaintenanceErrors,
): Promise<T[]> {
  const results: T[] = [];
  for (const key of input.mailboxKeys) {
    const result = await vault.readJson<T | { error: string }>(layout.maintenanceResult(input.id, step, key));
    if (!result) errors.push({ mailboxKey: key, step, message: 'no result was recorded' });
    else if ((result as { error?: string }).error !== undefined)
      errors.push({ mailboxKey: key, step, message: (result as { error: string }).error });
    else results.push(result as T);
  }
  return results;
}

/** What the artifacts step recorded; its error, or its absence, goes to `errors`. */
async function gatherArtifacts(
  vault: VaultStore,
  id: string,
  errors: MaintenanceErrors,
): Promise<ArtifactsResult | null> {
  const result = await vault.readJson<ArtifactsResult | { error: string }>(layout.maintenanceArtifacts(id));
  if (result && !('error' in result)) return result;
  errors.push({ mailboxKey: 'vault', step: 'artifacts', message: result?.error ?? 'no result was recorded' });
  return null;
}

function pruneSection(
  dryRun: boolean,
  pruned: PruneResult[],
): Omit<NonNullable<MaintenanceReport['prune']>, 'artifacts'> {
  return {
    dryRun,
    mailboxes: pruned,
    totals: {
      snapshotsExpired: pruned.reduce((s, p) => s + p.snapshotsExpired.length, 0),
      versionsDeleted: pruned.reduce((s, p) => s + p.versionsDeleted, 0),
      bytesFreed: pruned.reduce((s, p) => s + p.bytesFreed, 0),
      immutableLeft: pruned.reduce((s, p) => s + p.immutable.length, 0),
    },
  };
}

function verifySection(mode: VerifyMode, verified: VerifyResult[]): NonNullable<MaintenanceReport['verify']> {
  return {
    mode,
    mailboxes: verified,
    totals: {
      snapshotsChecked: verified.reduce((s, v) => s + v.snapshotsChecked, 0),
      entriesChecked: verified.reduce((s, v) => s + v.entriesChecked, 0),
      versionsHashed: verified.reduce((s, v) => s + v.versionsHashed, 0),
      problems: verified.reduce((s, v) => s + v.problems.length, 0),
    },
  };
}
