import type { BackupScope } from '../backup/scope.js';
import type { MailboxClient } from '../graph/index.js';

/**
 * Whether a user is in the backup scope: listed in MAILBOX_VAULT_SCOPE_USERS (by UPN or object id), or a
 * (transitive) member of MAILBOX_VAULT_SCOPE_GROUP_ID. The group is listed once per check: membership changes
 * take effect at once.
 */
export async function inBackupScope(graph: MailboxClient, scope: BackupScope, user: string): Promise<boolean> {
  return (await outOfBackupScope(graph, scope, [user])).length === 0;
}

/** The users of `users` that are not in the backup scope. */
export async function outOfBackupScope(graph: MailboxClient, scope: BackupScope, users: string[]): Promise<string[]> {
  const listed = new Set(scope.users.map((u) => u.toLowerCase()));
  let outside = users.filter((u) => !listed.has(u.toLowerCase()));
  if (outside.length && scope.groupId) {
    const members = new Set<string>();
    for await (const member of graph.listGroupUsers(scope.groupId)) {
      members.add(member.id.toLowerCase());
      if (member.userPrincipalName) members.add(member.userPrincipalName.toLowerCase());
    }
    outside = outside.filter((u) => !members.has(u.toLowerCase()));
  }
  return outside;
}
