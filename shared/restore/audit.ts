import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { RestoreRequest } from './types.js';

/** The audit record of a restore started: who asked, from which snapshot, into which mailbox, and what. */
export async function auditRestoreStarted(
  vault: VaultStore,
  restore: RestoreRequest,
  details: { selectedItems: number; userAgent: string | null },
): Promise<void> {
  const { source, target } = restore;
  await vault.writeJson(layout.audit(new Date(restore.requestedAt), 'restore', restore.restoreId), {
    action: 'restore',
    restoreId: restore.restoreId,
    at: restore.requestedAt,
    who: restore.requestedBy,
    userAgent: details.userAgent,
    from: {
      mailbox: source.upn ?? source.mailboxId,
      mailboxId: source.mailboxId,
      snapshotId: source.snapshotId,
      takenAt: source.takenAt,
    },
    into: { mailbox: target.upn ?? target.mailboxId, mailboxId: target.mailboxId, destination: restore.destination },
    what: { filters: restore.filters, collisions: restore.collisions, selectedItems: details.selectedItems },
  });
}

/** Marks a restore canceled (its report says so) and leaves the audit record of who canceled it. */
export async function recordRestoreCanceled(
  vault: VaultStore,
  restoreId: string,
  who: string,
  at: Date,
): Promise<void> {
  await vault.writeJson(layout.restoreCanceled(restoreId), { at: at.toISOString(), by: who });
  if (!(await vault.readJson<RestoreRequest>(layout.restoreRequest(restoreId)))) return;
  await vault.writeJson(layout.audit(at, 'cancel', restoreId), {
    action: 'cancelRestore',
    restoreId,
    at: at.toISOString(),
    who,
  });
}
