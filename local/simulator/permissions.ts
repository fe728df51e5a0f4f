import { accessDenied } from './auth.js';
import { SimHttpError } from './http.js';
import type { SimulatorState } from './state.js';
import type { SimMailbox } from './tenant.js';
import type { TokenGrant } from './tokens.js';

/**
 * The application permissions (Microsoft Graph app roles) each operation accepts, least privileged first, as
 * graph-mailbox-api.md §3.14 gives them; where the docs list no higher permission, none is accepted. An
 * operation missing here is refused with a 500 naming it, so a new route cannot go unchecked.
 */
export const OPERATION_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  // None of its own: each request of a batch is checked as if sent alone.
  batch: [],
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
  itemDelta: ['MailboxItem.Read.All'],
  // Not in the docs' table (beta, July 2026): the app role that writes items.
  deleteItem: ['MailboxItem.ReadWrite.All'],
  exportItems: ['MailboxItem.Export.All', 'MailboxItem.ImportExport.All'],
  createImportSession: ['MailboxItem.ImportExport.All'],
  // The mail API, for downloads through the staging mailbox: granted by Exchange RBAC for Applications on that
  // mailbox alone where the tenant uses it (see `exchangeGrants` of an app registration).
  getMessageContent: ['Mail.Read', 'Mail.ReadWrite'],
  listMessages: ['Mail.ReadBasic.All', 'Mail.Read', 'Mail.ReadWrite'],
  permanentDeleteMessage: ['Mail.ReadWrite'],
  permanentDeleteFolder: ['Mail.ReadWrite'],
};

/** Every role above: what the demo token and `Simulator.issueToken()` carry unless told otherwise. */
export const ALL_ROLES: readonly string[] = [...new Set(Object.values(OPERATION_PERMISSIONS).flat())].sort();

/**
 * What an app registration is granted when a test does not say: the README's backup and restore rows (and
 * GroupMember.Read.All for a group scope), as `azd up` grants them.
 */
export const DEFAULT_APP_ROLES: readonly string[] = [
  'User.Read.All',
  'GroupMember.Read.All',
  'MailboxFolder.Read.All',
  'MailboxFolder.ReadWrite.All',
  'MailboxItem.Read.All',
  'MailboxItem.Export.All',
  'MailboxItem.ImportExport.All',
];

/** Graph's 403 for a token without any role the operation accepts, in the style of the service behind it. */
export function requirePermission(grant: TokenGrant, operation: string): void {
  const accepted = OPERATION_PERMISSIONS[operation];
  if (!accepted)
    throw new SimHttpError(500, 'InternalServerError', `The simulator declares no permission for '${operation}'.`);
  if (accepted.length === 0 || accepted.some((role) => grant.roles.has(role))) return;
  // Directory reads answer as Entra ID does; everything Exchange serves, as Exchange does.
  if (operation === 'listGroupMembers')
    throw new SimHttpError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
  throw accessDenied();
}

/**
 * Exchange's RBAC for Applications (or a legacy application access policy): an app confined to some mailboxes
 * is refused the others, whatever roles its token carries.
 */
export function requireMailboxInAppScope(state: SimulatorState, grant: TokenGrant, mailbox: SimMailbox): void {
  const scope = grant.clientId === undefined ? undefined : state.apps.get(grant.clientId)?.mailboxScope;
  if (!scope) return;
  const inScope = scope.some((entry) => entry === mailbox.id || entry.toLowerCase() === mailbox.upn.toLowerCase());
  if (!inScope) throw accessDenied();
}
