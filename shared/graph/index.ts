export * from './errors.js';
export { PERMISSIONS_OF_OPERATION, rolesInToken } from './permissions.js';
export * from './types.js';
export {
  ARCHIVE_MOVED_CODE,
  MAX_REDIRECT_HOPS,
  ImportRedirectedError,
  RedirectRefusedError,
  exportRedirectMailbox,
} from './redirects.js';
export { ImportSession } from './importSession.js';
export { MailboxClient, MAX_EXPORT_BATCH } from './mailboxClient.js';
export type {
  MailboxClientOptions,
  ListOptions,
  ListItemsOptions,
  DeltaOptions,
  ImportItemRequest,
  CreateFolderRequest,
} from './mailboxClient.js';
export { LOST_ANSWER_SLOT_HOLD_IN_MS, MailboxLimiter, MAX_REQUESTS_PER_MAILBOX } from './mailboxLimiter.js';
export type { MailboxThrottleStats, SharedMailboxLimits, SharedSlot, ThrottleTally } from './mailboxLimiter.js';
export { UPLOAD_PACE_SHARE } from './mailboxLimiter.js';
export type { GraphLogger } from './graphHttp.js';
export { parseRetryAfter, defaultRetryOptions } from './retry.js';
export type { GraphRetryOptions } from './retry.js';
export { listFolderTree, readFolderTreeListing, WELL_KNOWN_FOLDER_ALIASES } from './folderTree.js';
export type { FolderTreeListing } from './folderTree.js';
