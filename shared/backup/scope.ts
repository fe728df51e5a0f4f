import pLimit from 'p-limit';
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

/** Users looked up at once: each lookup is a request on its own mailbox, so Graph's per-mailbox limits do not apply. */
const LOOKUPS_AT_ONCE = 16;

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
  // The first spelling of a user counts (a listed user's, before the group's).
  const firstSpelling = new Map<string, string>();
  for (const user of users) if (!firstSpelling.has(user.toLowerCase())) firstSpelling.set(user.toLowerCase(), user);
  const unique = [...firstSpelling.values()];
  const mailboxes: MailboxTarget[] = [];
  const inScope = new Set<string>();
  const warnings: string[] = [];
  const refusedUsers: string[] = [];
  const archives = archiveCoverage(client, options.archives ?? false);
  // Looked up several at once (a tenant of 10,000 users one by one is most of an hour); kept in scope order.
  const limit = pLimit(LOOKUPS_AT_ONCE);
  const lookups = unique.map((user) => limit(() => lookUp(client, user)));
  // The first failure ends the resolution; the others still settle, and are not left unhandled.
  for (const lookup of lookups) lookup.catch(() => undefined);
  for (const [index, user] of unique.entries()) {
    const found = await lookups[index]!;
    if ('warning' in found) {
      warnings.push(found.warning);
      if (found.refused) refusedUsers.push(user);
    }
    const ids = 'ids' in found ? found.ids : undefined;
    if (!ids || inScope.has(ids.primaryMailboxId)) continue;
    inScope.add(ids.primaryMailboxId);
    mailboxes.push({ mailboxId: ids.primaryMailboxId, upn: user });
    const archive = archiveTargetOf(ids, user, archives);
    if (archive && !inScope.has(archive.mailboxId)) {
      inScope.add(archive.mailboxId);
      mailboxes.push(archive);
      archives.included++;
    }
  }
  if (mailboxes.length === 0 && users.length === 0)
    warnings.push('No mailboxes are in scope: set MAILBOX_VAULT_SCOPE_USERS or MAILBOX_VAULT_SCOPE_GROUP_ID');
  return { mailboxes, warnings, refusedUsers, archives };
}

/**
 * One user's mailbox ids, or a warning: no mailbox (404), or settings/exchange refused for this user alone
 * (400/403, or a 200 without an id). Anything else (throttling or an outage outlasting the retries) ends the
 * resolution, to be tried again as a whole.
 */
async function lookUp(
  client: MailboxClient,
  user: string,
): Promise<{ ids: MailboxIds } | { warning: string; refused: boolean }> {
  try {
    return { ids: await client.getMailboxIds(user) };
  } catch (error) {
    if (error instanceof MailboxNotFoundError)
      return { warning: `${user} has no Exchange Online mailbox and was skipped`, refused: false };
    if (isRefusedForUser(error))
      return {
        warning: `${user} was skipped: its mailbox settings could not be read (${errorReason(error)})`,
        refused: true,
      };
    throw error;
  }
}

function isRefusedForUser(error: unknown): boolean {
  if (error instanceof MailboxIdMissingError) return true;
  return error instanceof GraphRequestError && (error.status === 400 || error.status === 403);
}
