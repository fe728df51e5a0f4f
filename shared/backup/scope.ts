import { errorReason } from '../errors.js';
import {
  GraphRequestError,
  MailboxIdMissingError,
  MailboxNotFoundError,
  type MailboxClient,
  type MailboxIds,
} from '../graph/index.js';
import { archiveCoverage, archiveTargetOf } from './archives.js';
import type { ArchiveCoverage, MailboxTarget } from './types.js';

export interface BackupScope {
  /** UPNs (or user ids) listed in settings. */
  users: string[];
  /** An Entra group whose (transitive) user members are in scope. */
  groupId?: string;
}

export interface ResolvedScope {
  mailboxes: MailboxTarget[];
  /** Users in scope without a mailbox, and other things an admin should see but that are not failures. */
  warnings: string[];
  /** Users in scope whose mailbox Graph would not name (settings/exchange refused): not backed up, a failure. */
  refusedUsers?: string[];
  /** In-place archives in scope, each listed right after its owner, or why none were looked for. */
  archives?: ArchiveCoverage;
}

export interface ScopeOptions {
  /** Back up users' in-place archives too (MAILBOX_VAULT_BACKUP_ARCHIVES; Graph names them on beta only). */
  archives?: boolean;
}

/**
 * Turns the scope (listed users, a group's members, or the subset an admin asked for) into mailbox ids, with
 * each user's in-place archive after the user's mailbox when archives are wanted and Graph names them.
 * Users without a mailbox, or whose mailbox settings Graph refuses, are warnings; duplicates (a user listed and in the group) count once.
 */
export async function resolveMailboxes(
  client: MailboxClient,
  scope: BackupScope,
  subset?: string[],
  options: ScopeOptions = {},
): Promise<ResolvedScope> {
  const users: string[] = [];
  if (subset?.length) users.push(...subset);
  else {
    users.push(...scope.users);
    if (scope.groupId)
      for await (const member of client.listGroupUsers(scope.groupId))
        users.push(member.userPrincipalName || member.id);
  }
  const seen = new Set<string>();
  const mailboxes: MailboxTarget[] = [];
  const warnings: string[] = [];
  const refusedUsers: string[] = [];
  const archives = archiveCoverage(client, options.archives ?? false);
  for (const user of users) {
    const key = user.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const ids = await mailboxIdsOf(client, user, warnings, refusedUsers);
    if (!ids || mailboxes.some((m) => m.mailboxId === ids.primaryMailboxId)) continue;
    mailboxes.push({ mailboxId: ids.primaryMailboxId, upn: user });
    const archive = archiveTargetOf(ids, user, archives);
    if (archive && !mailboxes.some((m) => m.mailboxId === archive.mailboxId)) {
      mailboxes.push(archive);
      archives.included++;
    }
  }
  if (mailboxes.length === 0 && users.length === 0)
    warnings.push('No mailboxes are in scope: set MAILBOX_VAULT_SCOPE_USERS or MAILBOX_VAULT_SCOPE_GROUP_ID');
  return { mailboxes, warnings, refusedUsers, archives };
}

/**
 * One user's mailbox ids, or a warning and undefined: no mailbox (404), or settings/exchange refused for this
 * user alone (400/403, or a 200 without an id). Anything else (throttling or an outage outlasting the retries)
 * ends the resolution, to be tried again as a whole.
 */
async function mailboxIdsOf(
  client: MailboxClient,
  user: string,
  warnings: string[],
  refusedUsers: string[],
): Promise<MailboxIds | undefined> {
  try {
    return await client.getMailboxIds(user);
  } catch (error) {
    if (error instanceof MailboxNotFoundError) warnings.push(`${user} has no Exchange Online mailbox and was skipped`);
    else if (isRefusedForUser(error)) {
      refusedUsers.push(user);
      warnings.push(`${user} was skipped: its mailbox settings could not be read (${errorReason(error)})`);
    } else throw error;
    return undefined;
  }
}

function isRefusedForUser(error: unknown): boolean {
  if (error instanceof MailboxIdMissingError) return true;
  return error instanceof GraphRequestError && (error.status === 400 || error.status === 403);
}
