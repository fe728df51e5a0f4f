/**
 * The link from a primary mailbox to the vault mailbox of its in-place archive, kept in the vault so snapshots
 * of both are found together (browse, restore) without asking Graph, which names archives on beta only.
 */
import { layout } from './layout.js';
import type { VaultStore } from './vaultStore.js';

export interface ArchiveLink {
  archiveMailboxId: string;
  /** When a backup of the archive last committed. */
  updatedAt: string;
}

/** Records that `archiveMailboxId` is the archive of `ownerMailboxId` (written by each archive commit). */
export async function linkArchive(
  vault: VaultStore,
  ownerMailboxId: string,
  archiveMailboxId: string,
  now: () => Date = () => new Date(),
): Promise<void> {
  const link: ArchiveLink = { archiveMailboxId, updatedAt: now().toISOString() };
  await vault.writeJson(layout.archiveLink(ownerMailboxId), link);
}

/** The vault mailbox of the owner's archive, if an archive of it was ever backed up. */
export async function archiveMailboxOf(vault: VaultStore, ownerMailboxId: string): Promise<string | undefined> {
  return (await vault.readJson<ArchiveLink>(layout.archiveLink(ownerMailboxId)))?.archiveMailboxId;
}
