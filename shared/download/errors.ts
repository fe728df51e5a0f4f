import { MailboxVaultError } from '../errors.js';

export type DownloadErrorCode =
  'StagingMailboxNotConfigured' | 'StagedCopyNotFound' | 'StagedCopyNotReadable' | 'NotDownloadable' | 'ItemNotFound';

/** A download that cannot go on; the HTTP layer answers each code with its status. */
export class DownloadError extends MailboxVaultError {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
  ) {
    super(message);
  }
}
