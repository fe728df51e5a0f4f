import { batch } from './batch.js';
import { folderDelta, itemDelta } from './delta.js';
import { getExchangeSettings, listGroupUsers } from './directory.js';
import { requestToken } from './entra.js';
import { exportItems } from './export.js';
import { createFolder, getFolder, listChildFolders, listFolders, updateFolder } from './folders.js';
import { createImportSession, postImportItem } from './importSessions.js';
import { deleteFolder, deleteItem } from './disposal.js';
import { getItem, listItems } from './items.js';
import { getMessageContent, listMessages, permanentDeleteFolder, permanentDeleteMessage } from './messages.js';
import { managedIdentityToken } from './managedIdentity.js';
import type { GraphRequest, MailboxRequest, SimRequest } from './request.js';
import type { Route } from './router.js';

/**
 * The simulator's routes, by area; in each table the first match wins. The control API (/_sim) has its own
 * table in control.ts.
 */

/** Entra ID's token endpoint: POST /{tenant}/oauth2/v2.0/token. */
export const TOKEN_ROUTES: ReadonlyArray<Route<SimRequest>> = [
  { method: 'POST', pattern: '{tenantId}/oauth2/v2.0/token', handler: requestToken },
];

/** Under /outlook: where import sessions' URLs point. */
export const OUTLOOK_ROUTES: ReadonlyArray<Route<SimRequest>> = [
  { method: 'POST', pattern: 'api/{apiVersion}/{mailboxRef}/importItem', handler: postImportItem },
];

/** A Graph operation outside any mailbox; its name is what permissions.ts knows it by. */
export interface DirectoryRoute extends Route<GraphRequest> {
  readonly operation: string;
}

/** Under /v1.0 and /beta, outside any mailbox: not throttled per mailbox ($batch's requests are, one by one). */
export const DIRECTORY_ROUTES: readonly DirectoryRoute[] = [
  // Each request of a batch is checked as if sent alone; the batch itself needs no permission.
  { method: 'POST', pattern: '$batch', operation: 'batch', handler: batch },
  {
    method: 'GET',
    pattern: 'users/{user}/settings/exchange',
    operation: 'getMailboxSettings',
    handler: getExchangeSettings,
  },
  {
    method: 'GET',
    pattern: 'groups/{group}/transitiveMembers/microsoft.graph.user',
    operation: 'listGroupMembers',
    handler: listGroupUsers,
  },
];

/** The managed identity endpoint of App Service and Azure Functions (IDENTITY_ENDPOINT): GET /msi/token. */
export const MANAGED_IDENTITY_ROUTES: ReadonlyArray<Route<SimRequest>> = [
  { method: 'GET', pattern: 'msi/token', handler: managedIdentityToken },
];

/** A mailbox operation; its name is what counters, throttling and scripted faults know it by. */
export interface MailboxRoute extends Route<MailboxRequest> {
  readonly operation: string;
}

/** Folder delete: beta's page uses the folder's URL, v1.0's adds `/$ref`; both list the childFolders form too. */
const FOLDER_DELETE_PATTERNS = [
  'folders/{folderId}',
  'folders/{folderId}/$ref',
  'folders/{parentId}/childFolders/{folderId}',
  'folders/{parentId}/childFolders/{folderId}/$ref',
];

/** Under /v1.0 and /beta /admin/exchange/mailboxes/{id}/. */
export const MAILBOX_ROUTES: readonly MailboxRoute[] = [
  { method: 'POST', pattern: 'exportItems', operation: 'exportItems', handler: exportItems },
  { method: 'POST', pattern: 'createImportSession', operation: 'createImportSession', handler: createImportSession },
  { method: 'GET', pattern: 'folders', operation: 'listFolders', handler: listFolders },
  { method: 'POST', pattern: 'folders', operation: 'createFolder', handler: createFolder },
  { method: 'GET', pattern: 'folders/delta', operation: 'folderDelta', handler: folderDelta },
  { method: 'GET', pattern: 'folders/{folderId}', operation: 'getFolder', handler: getFolder },
  {
    method: 'PATCH',
    pattern: 'folders/{folderId}',
    // folders/delta is a function, not a folder: there is nothing to patch.
    where: ({ folderId }) => folderId !== 'delta',
    operation: 'updateFolder',
    handler: updateFolder,
  },
  {
    method: 'GET',
    pattern: 'folders/{folderId}/childFolders',
    operation: 'listChildFolders',
    handler: listChildFolders,
  },
  { method: 'POST', pattern: 'folders/{folderId}/childFolders', operation: 'createFolder', handler: createFolder },
  { method: 'GET', pattern: 'folders/{folderId}/items', operation: 'listItems', handler: listItems },
  { method: 'GET', pattern: 'folders/{folderId}/items/delta', operation: 'itemDelta', handler: itemDelta },
  { method: 'GET', pattern: 'folders/{folderId}/items/{itemId}', operation: 'getItem', handler: getItem },
  { method: 'DELETE', pattern: 'folders/{folderId}/items/{itemId}', operation: 'deleteItem', handler: deleteItem },
  ...FOLDER_DELETE_PATTERNS.map((pattern) => ({
    method: 'DELETE',
    pattern,
    operation: 'deleteFolder',
    handler: deleteFolder,
  })),
];

/**
 * Under /v1.0 and /beta /users/{id | userPrincipalName}/: the mail API's operations a download uses, each on the
 * user's mailbox (admitted, throttled and checked as the mailbox operations above are).
 */
export const USER_MAILBOX_ROUTES: readonly MailboxRoute[] = [
  { method: 'GET', pattern: 'messages/{messageId}/$value', operation: 'getMessageContent', handler: getMessageContent },
  {
    method: 'POST',
    pattern: 'messages/{messageId}/permanentDelete',
    operation: 'permanentDeleteMessage',
    handler: permanentDeleteMessage,
  },
  { method: 'GET', pattern: 'mailFolders/{folderId}/messages', operation: 'listMessages', handler: listMessages },
  {
    method: 'POST',
    pattern: 'mailFolders/{folderId}/permanentDelete',
    operation: 'permanentDeleteFolder',
    handler: permanentDeleteFolder,
  },
];
