import type { MailboxClient } from '../graph/index.js';
import type { ManifestFolder, SnapshotRecord } from '../vault/records.js';
import { readManifest } from '../vault/snapshotCatalog.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { matches, resolveRestoreRequest, type RestoreBodyInput } from './request.js';
import type { RestoreFilters, RestoreRequest } from './types.js';

export interface RestorePreview {
  source: RestoreRequest['source'];
  target: RestoreRequest['target'];
  destination: RestoreRequest['destination'];
  collisions: RestoreRequest['collisions'];
  items: number;
  /** The selected items' size as Exchange reported it when they were backed up. */
  bytes: number;
}

/**
 * What a restore body would restore, without starting anything: the same checks as `POST /api/restores` (the
 * same refusals, RestoreRequestError), then the selected items counted and their bytes summed.
 */
export async function previewRestore(
  graph: MailboxClient,
  vault: VaultStore,
  body: RestoreBodyInput,
): Promise<RestorePreview> {
  const meta = { restoreId: 'preview', requestedAt: new Date().toISOString(), requestedBy: 'preview' };
  const { request, snapshot } = await resolveRestoreRequest(graph, vault, body, meta);
  const { items, bytes } = await sizeOfSelection(vault, snapshot, request.filters);
  const { source, target, destination, collisions } = request;
  return { source, target, destination, collisions, items, bytes };
}

async function sizeOfSelection(
  vault: VaultStore,
  snapshot: SnapshotRecord,
  filters: RestoreFilters,
): Promise<{ items: number; bytes: number }> {
  const itemIds = filters.itemIds ? new Set(filters.itemIds) : undefined;
  const folders = new Map<string, ManifestFolder>();
  let items = 0;
  let bytes = 0;
  for await (const entry of readManifest(vault, snapshot)) {
    if (entry.kind === 'folder') folders.set(entry.id, entry);
    else if (matches(entry, folders.get(entry.folderId), filters, itemIds)) {
      items++;
      bytes += entry.size;
    }
  }
  return { items, bytes };
}
