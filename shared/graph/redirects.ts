/**
 * Archive redirects (beta; graph-mailbox-api.md §5.3): an auto-expanding archive keeps some folders' content in
 * auxiliary mailboxes, and Graph points there with a 308 on folder and item reads, a per-item
 * `ErrorArchiveFolderMovedPermanently` in exportItems, and a 409 from an import session of the wrong mailbox.
 * Every place that follows one asks here whether the target is acceptable: a redirect must stay on the
 * configured Graph origin and name a mailbox of the import/export API, so a bearer token never leaves for
 * anywhere else, and a chain of redirects ends.
 */
import { MailboxVaultError } from '../errors.js';

/** Hops followed for one request (M365-Sphere, which met these redirects in the field, stops at 5). */
export const MAX_REDIRECT_HOPS = 5;

/** The per-item export error whose message is the exportItems URL of the mailbox that holds the item. */
export const ARCHIVE_MOVED_CODE = 'ErrorArchiveFolderMovedPermanently';

/** `/{beta|v1.0}/admin/exchange/mailboxes/{id}/…`; Graph varies the casing of the path (`/admin/Exchange/Mailboxes/`). */
const MAILBOX_PATH = /^\/(?:beta|v1\.0)\/admin\/exchange\/mailboxes\/([^/]+)(\/.*)$/i;

/** A redirect Graph gave that is not followed: elsewhere than Graph, not a mailbox, or one hop too many. */
export class RedirectRefusedError extends MailboxVaultError {
  readonly code = 'ArchiveRedirectRefused';
}

/** Where a redirect leads: the URL to ask, and the mailbox it is in (its throttling budget is that mailbox's). */
export interface RedirectTarget {
  url: string;
  mailboxId: string;
}

/**
 * The target of a 308's `Location`, resolved against the request's URL, or RedirectRefusedError. `hops` is the
 * number already followed for this request.
 */
export function redirectTarget(
  location: string | null,
  requestUrl: string,
  trustedOrigins: readonly string[],
  hops: number,
): RedirectTarget {
  if (hops >= MAX_REDIRECT_HOPS)
    throw new RedirectRefusedError(`Graph redirected the request more than ${MAX_REDIRECT_HOPS} times`);
  if (!location) throw new RedirectRefusedError('Graph answered 308 without a Location');
  const url = parseUrl(location, requestUrl);
  return { url: url.toString(), mailboxId: mailboxOf(url, trustedOrigins) };
}

/**
 * The mailbox an `ErrorArchiveFolderMovedPermanently` names: its message is that mailbox's exportItems URL.
 * The item is then exported through the client's own URL for that mailbox; nothing else of the message is used.
 */
export function exportRedirectMailbox(message: string, trustedOrigins: readonly string[]): string {
  const url = parseUrl(message.trim());
  const mailboxId = mailboxOf(url, trustedOrigins);
  if (!/\/exportItems$/i.test(url.pathname))
    throw new RedirectRefusedError('The archive redirect of an exported item does not name an exportItems URL');
  return mailboxId;
}

/** `Invalid import session. The target session is expected in mailbox MBX:…@….` → the mailbox id, if it names one. */
export function importRedirectMailbox(message: string): string | undefined {
  return /\bexpected in mailbox (MBX:[^\s@/?#]+@[^\s./?#]+)/i.exec(message)?.[1];
}

function parseUrl(text: string, base?: string): URL {
  try {
    return new URL(text, base);
  } catch {
    throw new RedirectRefusedError('Graph redirected to something that is not a URL');
  }
}

function mailboxOf(url: URL, trustedOrigins: readonly string[]): string {
  if (!trustedOrigins.includes(url.origin))
    throw new RedirectRefusedError(`Graph redirected to ${url.origin}, which is not the configured Graph endpoint`);
  const match = MAILBOX_PATH.exec(url.pathname);
  if (!match) throw new RedirectRefusedError('Graph redirected outside /admin/exchange/mailboxes/');
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    throw new RedirectRefusedError('Graph redirected to a malformed mailbox id');
  }
}

/**
 * An import POST answered 409 because the folder's content lives in another mailbox of the archive: nothing was
 * imported, and the item goes through an import session of `mailboxId` instead.
 */
export class ImportRedirectedError extends MailboxVaultError {
  readonly code = 'ImportRedirected';

  constructor(readonly mailboxId: string) {
    super(`The import session belongs to another mailbox of the archive; Exchange expects ${mailboxId}`);
  }
}
