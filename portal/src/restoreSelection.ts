import { setRestoreDraft } from './restoreDraft.js';
import type { Item } from './types.js';

/** Hands a selection (items, or folders) of one snapshot to the restore wizard. */
export function restoreDraftFor(
  upn: string,
  snapshotId: string,
  items: Item[],
  where: string,
  folders?: string[],
): void {
  setRestoreDraft({
    sourceMailbox: upn,
    snapshot: snapshotId,
    ...(items.length ? { itemIds: items.map((i) => i.id) } : {}),
    ...(folders ? { folders } : {}),
    description: folders
      ? `Folder ${folders.join(', ')} chosen ${where}`
      : `${items.length} item(s) selected ${where}: ${items
          .slice(0, 5)
          .map((i) => i.subject ?? '(no subject)')
          .join('; ')}${items.length > 5 ? '…' : ''}`,
  });
}
