import type { PlannedImport, RestoreRequest } from '../../shared/restore/types.js';
import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';

/** A restore's request with what its report copies from it (times, source, target, destination, collisions). */
export async function plantReportedRestoreRequest(vault: VaultStore, restoreId: string): Promise<void> {
  const request: Partial<RestoreRequest> = {
    restoreId,
    requestedAt: '2026-12-01T00:00:00.000Z',
    source: { mailboxId: 'source', upn: null, snapshotId: 's', takenAt: '2026-11-30T00:00:00.000Z' },
    target: { mailboxId: 'target', upn: null },
    destination: { mode: 'newFolder' },
    collisions: 'copy',
  };
  await vault.writeJson(layout.restoreRequest(restoreId), request);
}

/** A planned import of a 100-byte item into `folder` (Inbox), with a search key when given. */
export function plannedImport(sourceId: string, searchKey?: string, extra: Partial<PlannedImport> = {}): PlannedImport {
  return {
    sourceId,
    blob: `items/${sourceId}`,
    sha256: '0'.repeat(64),
    length: 100,
    targetFolderId: 'folder',
    folderPath: 'Inbox',
    ...extra,
    ...(searchKey ? { searchKey } : {}),
  };
}
