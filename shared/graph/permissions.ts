/**
 * The Microsoft Graph application permissions (app roles) each operation of the client needs, least privileged
 * first, then those that also grant it (graph-mailbox-api.md §3.14). Used to name what is missing when Graph
 * refuses a call; the simulator keeps its own copy of the table, and a test checks that the two agree.
 */
export const PERMISSIONS_OF_OPERATION: Readonly<Record<string, readonly string[]>> = {
  getMailboxSettings: ['User.Read.All', 'User.ReadWrite.All'],
  listGroupMembers: ['GroupMember.Read.All', 'Group.Read.All', 'Directory.Read.All'],
  listFolders: ['MailboxFolder.Read.All', 'MailboxFolder.ReadWrite.All'],
  getFolder: ['MailboxFolder.Read.All', 'MailboxFolder.ReadWrite.All'],
  listChildFolders: ['MailboxFolder.Read.All', 'MailboxFolder.ReadWrite.All'],
  folderDelta: ['MailboxFolder.Read.All', 'MailboxFolder.ReadWrite.All'],
  createFolder: ['MailboxFolder.ReadWrite.All'],
  updateFolder: ['MailboxFolder.ReadWrite.All'],
  deleteFolder: ['MailboxFolder.ReadWrite.All'],
  listItems: ['MailboxItem.Read.All'],
  getItem: ['MailboxItem.Read.All'],
  // Item GETs through $batch: each needs what getItem needs.
  getItems: ['MailboxItem.Read.All'],
  itemDelta: ['MailboxItem.Read.All'],
  deleteItem: ['MailboxItem.ReadWrite.All'],
  exportItems: ['MailboxItem.Export.All', 'MailboxItem.ImportExport.All'],
  createImportSession: ['MailboxItem.ImportExport.All'],
  // The mail API on the staging mailbox (downloads): Exchange RBAC for Applications confines them to it.
  getMessageContent: ['Mail.Read', 'Mail.ReadWrite'],
  listMessages: ['Mail.ReadBasic.All', 'Mail.Read', 'Mail.ReadWrite'],
  permanentDeleteMessage: ['Mail.ReadWrite'],
  permanentDeleteFolder: ['Mail.ReadWrite'],
};

/**
 * The app roles an access token says it carries, or undefined when it says nothing readable (an opaque token).
 * A client must not rely on its token's contents for anything but a diagnosis: this only words a 403.
 */
export function rolesInToken(token: string | undefined): string[] | undefined {
  const payload = token?.split('.')[1];
  if (!payload) return undefined;
  try {
    const roles = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { roles?: unknown }).roles;
    if (roles === undefined) return [];
    return Array.isArray(roles) ? roles.map(String) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why Graph refused an operation, as far as the token tells: the permission it needs is not in the token
 * ('missingPermission'), it is and the refusal concerns the resource ('outsideScope'), or the token does not say.
 */
export function diagnoseDenial(
  operation: string,
  tokenRoles: readonly string[] | undefined,
): { permission: string | undefined; verdict: 'missingPermission' | 'outsideScope' | 'unknown' } {
  const accepted = PERMISSIONS_OF_OPERATION[operation];
  const permission = accepted?.[0];
  if (!accepted || !tokenRoles) return { permission, verdict: 'unknown' };
  return {
    permission,
    verdict: accepted.some((role) => tokenRoles.includes(role)) ? 'outsideScope' : 'missingPermission',
  };
}

/** "carries A, B" or "carries no application permissions", for messages. */
export function describeRoles(tokenRoles: readonly string[]): string {
  return tokenRoles.length ? `carries ${tokenRoles.join(', ')}` : 'carries no application permissions';
}
