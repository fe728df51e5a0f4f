import type { SimMailbox, SimTenant } from './tenant.js';

/** What a night of churn did to a mailbox, for a benchmark to hold its Graph calls against. */
export interface ChurnResult {
  added: number;
  edited: number;
  moved: number;
  deleted: number;
  /** Folders whose items delta reports a change (the items' old and new folders). */
  changedFolderIds: string[];
}

/**
 * A night's changes to `fraction` of a mailbox's items, without the caller naming each item (a million-item
 * mailbox's ids are too many to hand across): 40 % new mail in the Inbox stamped now, 40 % edits, 10 % moves to
 * the Archive, 10 % deletions, of items picked at an even stride through the mailbox so the same seed and
 * mailbox give the same night. Each change goes through the tenant's own operations, as the single-item control
 * endpoints do.
 */
export function churnMailbox(tenant: SimTenant, mailbox: SimMailbox, fraction: number): ChurnResult {
  if (!(fraction > 0 && fraction <= 1)) throw new Error('fraction must be in (0, 1]');
  const changed = Math.max(1, Math.round(mailbox.items.size * fraction));
  const [added, edited, moved] = [0.4, 0.4, 0.1].map((share) => Math.round(changed * share)) as [
    number,
    number,
    number,
  ];
  const deleted = changed - added - edited - moved;
  const archive = mailbox.folderByIdOrName('archive')!;
  const inbox = mailbox.folderByIdOrName('inbox')!;
  // Only items of the mailbox's visible folders; none already in the Archive, so a move is a move.
  const candidates = pickAtStride(
    [...mailbox.items.values()].filter((i) => mailbox.folders.has(i.folderId) && i.folderId !== archive.id),
    edited + moved + deleted,
  );
  const folders = new Set<string>([inbox.id]);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  for (let n = 0; n < added; n++) tenant.addItem(mailbox, inbox.id, { size: 1_000, createdDateTime: now });
  candidates.forEach((item, n) => {
    folders.add(item.folderId);
    if (n < edited) tenant.changeItem(mailbox, item.id);
    else if (n < edited + moved) {
      tenant.moveItem(mailbox, item.id, archive.id);
      folders.add(archive.id);
    } else tenant.deleteItem(mailbox, item.id);
  });
  return { added, edited, moved, deleted, changedFolderIds: [...folders] };
}

function pickAtStride<T>(values: T[], count: number): T[] {
  if (count >= values.length) return values;
  const stride = values.length / count;
  return Array.from({ length: count }, (_, n) => values[Math.floor(n * stride)]!);
}
