import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';

/**
 * Marks a restore canceled: its report says so, and import batches still running see the marker and stop. The
 * audit record of who canceled it is the API's (functions/http.ts), in the audit trail.
 */
export async function markRestoreCanceled(vault: VaultStore, restoreId: string, who: string, at: Date): Promise<void> {
  await vault.writeJson(layout.restoreCanceled(restoreId), { at: at.toISOString(), by: who });
}
