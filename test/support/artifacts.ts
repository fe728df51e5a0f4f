import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';

/** Run and restore folders as the app writes them, for the artifact retention tests. */

export const MAILBOX = 'mailbox-id-1';

export async function names(vault: VaultStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const name of vault.listNames(prefix)) out.push(name);
  return out;
}

/** A backup run's folder as the app writes it; `report: false` leaves the run unfinished. */
export async function plantRun(
  vault: VaultStore,
  runId: string,
  options: { report?: boolean; mailboxResult?: boolean } = {},
) {
  await vault.writeJson(layout.runMailboxes(runId), { mailboxes: [{ mailboxId: MAILBOX, upn: 'ana@x' }] });
  await vault.writeText(layout.runPlan(runId, MAILBOX), '{"subject":"Quarterly numbers"}\n');
  await vault.writeJson(layout.runBatchResult(runId, MAILBOX, 0), { results: [] });
  if (options.mailboxResult) await vault.writeJson(layout.runMailboxResult(runId, MAILBOX), { status: 'Failed' });
  if (options.report ?? true) await vault.writeJson(layout.runReport(runId), { runId });
}

export async function plantRestore(vault: VaultStore, restoreId: string, options: { report?: boolean } = {}) {
  await vault.writeJson(layout.restoreRequest(restoreId), { source: { mailboxId: MAILBOX, snapshotId: 's' } });
  await vault.writeText(layout.restorePlan(restoreId), '{"searchKey":"abc","subject":"Payslip"}\n');
  await vault.writeJson(layout.restoreJournal(restoreId, 'item-1'), { importedId: 'x' });
  await vault.writeJson(layout.restoreIntent(restoreId, 0, 'item-1'), { searchKey: 'abc' });
  if (options.report ?? true) await vault.writeJson(layout.restoreReport(restoreId), { restoreId });
}
