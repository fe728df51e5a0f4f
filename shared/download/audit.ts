import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';

/**
 * The audit record of a download: who took what out of the vault, from which snapshot, and how. Written before
 * a byte is served, under audit/ with the restores' records (shared/restore/audit.ts).
 */
export async function auditDownload(
  vault: VaultStore,
  record: {
    downloadId: string;
    at: Date;
    who: string;
    userAgent: string | null;
    mailbox: { mailboxId: string; upn: string | null };
    snapshotId: string;
    what: { itemId: string; type: string } | { filters: unknown; format: string; selectedItems: number };
  },
): Promise<void> {
  await vault.writeJson(layout.audit(record.at, 'download', record.downloadId), {
    action: 'download',
    downloadId: record.downloadId,
    at: record.at.toISOString(),
    who: record.who,
    userAgent: record.userAgent,
    from: {
      mailbox: record.mailbox.upn ?? record.mailbox.mailboxId,
      mailboxId: record.mailbox.mailboxId,
      snapshotId: record.snapshotId,
    },
    what: record.what,
  });
}

/** Each time an export's file is fetched: a link can be passed on, so every fetch is on record. */
export async function auditFileFetched(vault: VaultStore, downloadId: string, who: string, at: Date): Promise<void> {
  await vault.writeJson(layout.audit(at, 'fetch', downloadId), {
    action: 'fetchDownload',
    downloadId,
    at: at.toISOString(),
    who,
  });
}
