/**
 * In-place archives in a backup: which archives are in scope, and, in an export, the items an archive says live
 * in one of its auxiliary mailboxes. An archive is a vault mailbox of its own, linked to its owner's primary
 * mailbox (`archiveOf`); its auxiliary mailboxes are never vault mailboxes, only where some of its items are read.
 */
import {
  ARCHIVE_MOVED_CODE,
  MAX_REDIRECT_HOPS,
  RedirectRefusedError,
  type ExportedItem,
  type MailboxClient,
  type MailboxIds,
} from '../graph/index.js';
import type { ArchiveCoverage, MailboxTarget, PlannedItem } from './types.js';

/** What the run report says when archives were looked for on v1.0, which never names them. */
export const ARCHIVES_NEED_BETA =
  "In-place archives were not backed up: MAILBOX_VAULT_GRAPH_API_VERSION is 'v1.0', and Microsoft Graph names a " +
  "user's archive mailbox (inPlaceArchiveMailboxId) and serves archives on beta only. Set it to 'beta' to back " +
  "them up, or MAILBOX_VAULT_BACKUP_ARCHIVES to 'false' to say they are not wanted";

export const ARCHIVES_TURNED_OFF = "In-place archives were not backed up: MAILBOX_VAULT_BACKUP_ARCHIVES is 'false'";

/** Whether this run looks for archives, and if not, why (said in the run report). */
export function archiveCoverage(client: MailboxClient, wanted: boolean): ArchiveCoverage {
  if (!wanted) return { included: 0, reason: ARCHIVES_TURNED_OFF };
  if (client.apiVersion !== 'beta') return { included: 0, reason: ARCHIVES_NEED_BETA };
  return { included: 0 };
}

/** The user's archive as a mailbox to back up, when the run looks for archives and Graph named one. */
export function archiveTargetOf(ids: MailboxIds, upn: string, coverage: ArchiveCoverage): MailboxTarget | undefined {
  if (coverage.reason || !ids.inPlaceArchiveMailboxId) return undefined;
  return { mailboxId: ids.inPlaceArchiveMailboxId, upn, archiveOf: ids.primaryMailboxId };
}

/**
 * Items of one exportItems call that an archive answered with `ErrorArchiveFolderMovedPermanently`, grouped
 * by the auxiliary mailbox that holds them, to be exported from there once the call is read. `hops` is how many
 * such redirects led to this call.
 */
export class MovedItems {
  readonly byMailbox = new Map<string, PlannedItem[]>();

  constructor(
    private readonly client: MailboxClient,
    private readonly hops: number,
  ) {}

  /**
   * True when the item is such a redirect, now grouped; throws RedirectRefusedError when it is one that is not
   * followed (the item then fails with that reason, named in the report, never silently left out).
   */
  take(item: ExportedItem, planned: PlannedItem): boolean {
    if (item.error?.code !== ARCHIVE_MOVED_CODE) return false;
    if (this.hops >= MAX_REDIRECT_HOPS)
      throw new RedirectRefusedError(`The archive redirected this item more than ${MAX_REDIRECT_HOPS} times`);
    const holder = this.client.exportRedirectMailbox(item.error.message);
    this.byMailbox.set(holder, [...(this.byMailbox.get(holder) ?? []), planned]);
    return true;
  }
}
