import type { AppConfig } from '../config.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { expireArtifacts, type ArtifactsInput } from './artifacts.js';
import { pruneOwned } from './inFlight.js';
import type { OrchestrationExists } from './expiringSnapshots.js';
import { pruneMailbox } from './prune.js';
import { backfillReaderMarkers, findMailboxReads } from './readerMarkers.js';
import { verifyMailbox, type VerifyMode } from './verify.js';

/** One mailbox of a maintenance run, by its place in the list the run keeps. */
export interface MaintenanceMailbox {
  /** The maintenance run's id. */
  id: string;
  index: number;
  /** The run's start: "now" for the retention policy, so a retried activity decides the same. */
  startedAt: string;
}

/**
 * The mailboxes a maintenance run works on, kept in its folder: those asked for, or every one in the vault. Before
 * any prune of the run, until the vault's backfill is complete, every running restore and download gets its reader
 * marker (readerMarkers.ts); `now` is the time of this pass (not the run's start: see backfillReaderMarkers).
 */
export async function listMaintenanceMailboxes(
  vault: VaultStore,
  id: string,
  asked: string[] | null,
  now: Date = new Date(),
): Promise<number> {
  await backfillReaderMarkers(vault, now);
  let keys = asked;
  if (!keys) {
    keys = [];
    for await (const prefix of vault.listPrefixes('mailboxes/')) keys.push(prefix.slice('mailboxes/'.length, -1));
  }
  await vault.writeJson(layout.maintenanceMailboxes(id), keys);
  return keys.length;
}

export async function readMaintenanceMailboxes(vault: VaultStore, id: string): Promise<string[]> {
  return (await vault.readJson<string[]>(layout.maintenanceMailboxes(id))) ?? [];
}

/**
 * Prunes one mailbox by the retention policy (or reports what it would free), as its owner for the while. A
 * restore or download request whose orchestration does not exist long after its start deadline protects nothing
 * (expiringSnapshots.ts); the run's start is the prune's clock for that, as for the policy.
 */
export async function pruneMaintenanceMailbox(
  vault: VaultStore,
  config: AppConfig,
  mailbox: MaintenanceMailbox,
  dryRun: boolean,
  orchestrationExists: OrchestrationExists,
): Promise<{ versionsDeleted: number }> {
  const now = new Date(mailbox.startedAt);
  return recordingOutcome(vault, mailbox, 'prune', (key) => {
    const abandonedReadCheck = { now, orchestrationExists, mailboxKey: key };
    return pruneOwned(
      vault,
      key,
      // The running restores are read holding the lease: a prune may wait minutes for it (a commit holds it),
      // and a restore or download requested meanwhile reads a snapshot this prune must keep.
      async (inFlight, assertOwned) => {
        const reads = await findMailboxReads(vault, key, abandonedReadCheck, { clearEnded: !dryRun });
        return pruneMailbox(vault, {
          mailboxKey: key,
          policy: config.maintenance.retention,
          now,
          dryRun,
          protectedSnapshots: reads.inProgress.get(key) ?? [],
          abandonedReads: reads.abandoned,
          abandonedReadCheck,
          inFlight,
          assertOwned,
        });
      },
      { dryRun },
    );
  }).then((result) => ({ versionsDeleted: result.versionsDeleted }));
}

/**
 * Deletes (or, in a dry run, counts) the run, restore and download artifacts past the retention policy, and keeps what it did,
 * or its error, for the report.
 */
export async function expireMaintenanceArtifacts(
  vault: VaultStore,
  config: AppConfig,
  run: { id: string; startedAt: string },
  dryRun: boolean,
  durable: Pick<ArtifactsInput, 'hasEnded' | 'orchestrationExists'>,
): Promise<{ blobsDeleted: number }> {
  const policy = config.maintenance.retention;
  const now = new Date(run.startedAt);
  try {
    const result = await expireArtifacts(vault, { policy, now, dryRun, ...durable });
    await vault.writeJson(layout.maintenanceArtifacts(run.id), result);
    return { blobsDeleted: result.blobsDeleted };
  } catch (error) {
    await vault.writeJson(layout.maintenanceArtifacts(run.id), { error: (error as Error).message });
    throw error;
  }
}

/** Verifies one mailbox's snapshots against their manifests. */
export async function verifyMaintenanceMailbox(
  vault: VaultStore,
  config: AppConfig,
  mailbox: MaintenanceMailbox,
  mode: VerifyMode,
): Promise<{ problems: number }> {
  const sample = config.maintenance.verifySample;
  return recordingOutcome(vault, mailbox, 'verify', (key) =>
    verifyMailbox(vault, { mailboxKey: key, mode, sample, seed: mailbox.id }),
  ).then((result) => ({ problems: result.problems.length }));
}

/** Runs one step for one mailbox and keeps its result, or its error, for the report. */
async function recordingOutcome<T>(
  vault: VaultStore,
  mailbox: MaintenanceMailbox,
  step: 'prune' | 'verify',
  work: (mailboxKey: string) => Promise<T>,
): Promise<T> {
  const key = (await readMaintenanceMailboxes(vault, mailbox.id))[mailbox.index]!;
  try {
    const result = await work(key);
    await vault.writeJson(layout.maintenanceResult(mailbox.id, step, key), result);
    return result;
  } catch (error) {
    await vault.writeJson(layout.maintenanceResult(mailbox.id, step, key), { error: (error as Error).message });
    throw error;
  }
}
