import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';

/** Run, restore and download folders as the app writes them, for the artifact retention tests. */

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

/** A download's folder as the app writes it: request, plan, a converted message, the file; `report: false` leaves it unfinished. */
export async function plantDownload(
  vault: VaultStore,
  downloadId: string,
  options: { report?: boolean; fileExpiresAt?: string } = {},
) {
  await vault.writeJson(layout.downloadRequest(downloadId), { source: { mailboxId: MAILBOX, snapshotId: 's' } });
  await vault.writeText(layout.downloadPlan(downloadId), '{"sourceId":"item-1","subject":"Payslip"}\n');
  await vault.writeText(layout.downloadEml(downloadId, 'item-1'), 'Subject: Payslip\r\n\r\nDear Ana,\r\n');
  await vault.writeText(layout.downloadFile(downloadId, 'mbox'), 'From MAILER-DAEMON\nSubject: Payslip\n');
  const file = options.fileExpiresAt
    ? { file: { blob: layout.downloadFile(downloadId, 'mbox'), bytes: 40, expiresAt: options.fileExpiresAt } }
    : {};
  if (options.report ?? true) await vault.writeJson(layout.downloadReport(downloadId), { downloadId, ...file });
}

/** A restore's or download's request whose trigger died before starting its orchestration: the request alone. */
export async function plantUnstartedRequest(
  vault: VaultStore,
  kind: 'restore' | 'download',
  id: string,
  startBy: string,
) {
  const request = kind === 'restore' ? layout.restoreRequest(id) : layout.downloadRequest(id);
  await vault.writeJson(request, { startBy, source: { mailboxId: MAILBOX, snapshotId: 's' } });
}
