import type { BatchResult, ChangeRecord } from '../backup/types.js';
import { layout } from '../vault/layout.js';
import { runIsDone, withMailboxLease } from '../vault/mailboxOwner.js';
import type { VaultStore } from '../vault/vaultStore.js';

/**
 * Reachability that counts work in flight.
 *
 * INVARIANT: every item version a committed manifest references is in the vault (full verify finds no
 * `missingBlob`), whatever backups and prunes of the mailbox overlap.
 *
 * Why it holds. A version is deleted only by a sweep, and a version enters a manifest only by a commit. Both
 * run holding the mailbox's lease (mailboxOwner.ts), so for one mailbox they are serialised: each commit C and
 * sweep S is wholly before or after the other.
 * - S after C: S marks every version a remaining snapshot references, so C's versions stay (and C's previous
 *   snapshot, the newest, is always kept by the policy, so the versions C carried over stay too).
 * - S before C: S bumps the owner record's prune count before it marks, under the lease. C reads that count;
 *   as it differs from the one its run saw when it claimed the mailbox, C looks up every new or reused version
 *   it is about to reference and leaves out what is gone (the item fails, the folder's delta link stays, and
 *   the next run exports it again). So C references only versions present after S, and nothing deletes in
 *   between because C holds the lease until its record is written.
 * - No prune since the claim: nothing was swept, so every version the run stored or found is still there.
 * Besides, so that a sweep rarely costs a running backup anything: the versions the owning, uncommitted run has
 * recorded so far (its batch results, and the reused versions its plan knows) are live for the sweep.
 * Nothing here reads a clock: a crashed lease holder's lease expires, and a claim ends with its run's result.
 */
export async function pruneOwned<T>(
  vault: VaultStore,
  mailboxKey: string,
  prune: (inFlight: Set<string>, assertOwned: () => void) => Promise<T>,
  options: { dryRun?: boolean } = {},
): Promise<T> {
  return withMailboxLease(vault, mailboxKey, async (held) => {
    const owner = await held.read();
    if (!options.dryRun) await held.write({ ...owner, prunes: owner.prunes + 1 }); // a dry run deletes nothing
    const runId = owner.holder?.runId;
    const inFlight =
      runId && !(await runIsDone(vault, runId, mailboxKey))
        ? await recordedVersions(vault, runId, mailboxKey)
        : new Set<string>();
    return prune(inFlight, () => held.assertHeld());
  });
}

/** Every version a run has recorded for a mailbox: stored or found by its exports (any plan), known to its plan. */
export async function recordedVersions(vault: VaultStore, runId: string, mailboxKey: string): Promise<Set<string>> {
  const versions = new Set<string>();
  for await (const name of vault.listNames(layout.byKey.runBatchResultsPrefix(runId, mailboxKey))) {
    const result = await vault.readJson<BatchResult>(name);
    for (const outcome of result?.results ?? []) if (outcome.ok) versions.add(outcome.blob);
  }
  const changes = layout.byKey.runChanges(runId, mailboxKey);
  for await (const record of vault.readNdjsonGz<ChangeRecord>(changes, { missingOk: true }))
    if (record.kind === 'upsert' && record.known) versions.add(record.known.blob);
  return versions;
}
