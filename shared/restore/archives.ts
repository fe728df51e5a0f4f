/**
 * A restore's in-place archives: `sourceArchive` restores from the vault mailbox of a user's archive (linked
 * from the user's own when it was backed up), `targetArchive` into a user's archive, as Graph names it (beta),
 * else as the vault last saw it. Archive and primary mailbox are restored into alike: the archive's auxiliary
 * mailboxes are reached by the importer, through the 409s Exchange answers.
 */
import type { MailboxClient } from '../graph/index.js';
import { archiveMailboxOf } from '../vault/archiveLinks.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { RestoreRequestError } from './request.js';

export interface ResolvedMailbox {
  mailboxId: string;
  upn: string | null;
}

/** The vault mailbox of the owner's archive, or a refusal naming the field. */
export async function archiveSource(
  vault: VaultStore,
  owner: ResolvedMailbox,
  asked: string,
): Promise<ResolvedMailbox> {
  const archiveMailboxId = await archiveMailboxOf(vault, owner.mailboxId);
  if (!archiveMailboxId)
    throw new RestoreRequestError('InvalidRequest', 'The request is not valid', [
      `sourceArchive: no in-place archive of '${asked}' has been backed up`,
    ]);
  return { mailboxId: archiveMailboxId, upn: owner.upn };
}

/** The owner's archive to restore into: Graph's (beta names it), else the one the vault links; or a refusal. */
export async function archiveTarget(
  graph: MailboxClient,
  vault: VaultStore,
  owner: ResolvedMailbox,
  asked: string,
): Promise<ResolvedMailbox> {
  const named = owner.upn ? (await graph.getMailboxIds(owner.upn)).inPlaceArchiveMailboxId : undefined;
  const archiveMailboxId = named ?? (await archiveMailboxOf(vault, owner.mailboxId));
  if (!archiveMailboxId)
    throw new RestoreRequestError('InvalidRequest', 'The request is not valid', [
      `targetArchive: Graph names no in-place archive for '${asked}' (it does on beta only) and none was backed up`,
    ]);
  return { mailboxId: archiveMailboxId, upn: owner.upn };
}
