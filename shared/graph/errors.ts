/**
 * Typed failures of the Graph mailbox client. Callers decide on the type, never on message text.
 * No error carries a token, a client secret or an importUrl: operations are named, URLs are redacted.
 */

import { MailboxVaultError } from '../errors.js';
import { describeRoles, diagnoseDenial } from './permissions.js';

export interface GraphErrorDetails {
  status: number;
  code: string;
  message: string;
  operation: string;
  requestId?: string;
}

/** A request Graph answered with a final (non-retriable, or retries exhausted) error status. */
export class GraphRequestError extends MailboxVaultError {
  readonly status: number;
  readonly code: string;
  readonly operation: string;
  readonly requestId: string | undefined;

  constructor(details: GraphErrorDetails) {
    super(`${details.operation} failed with ${details.status} ${details.code}: ${details.message}`);
    this.status = details.status;
    this.code = details.code;
    this.operation = details.operation;
    this.requestId = details.requestId;
  }

  /** 4xx other than 408/429: asking again will not help. */
  get isPermanent(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

/** Throttling (429) or service trouble (5xx, network) outlasted the retry budget. */
export class GraphRetriesExhaustedError extends MailboxVaultError {
  readonly code = 'RetriesExhausted';
  readonly operation: string;
  readonly attempts: number;
  readonly lastReason: string;

  constructor(operation: string, attempts: number, lastReason: string) {
    super(`${operation} gave up after ${attempts} attempts: ${lastReason}`);
    this.operation = operation;
    this.attempts = attempts;
    this.lastReason = lastReason;
  }
}

/** A stored delta link that Graph no longer accepts: the collection must be enumerated in full. */
export class DeltaLinkRejectedError extends MailboxVaultError {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string) {
    super(`Graph rejected the stored delta link (${status} ${code}); a full enumeration is needed`);
    this.status = status;
    this.code = code;
  }
}

/**
 * Graph refused a delta round with 403 ErrorQuotaExceeded: the mailbox has no room for more sync state. The
 * collection can still be read through its plain listing, which keeps no sync state.
 */
export class DeltaQuotaExceededError extends MailboxVaultError {
  readonly code = 'DeltaQuotaExceeded';
  readonly status: number;
  readonly operation: string;

  constructor(operation: string, status: number) {
    super(`${operation} was refused with ${status} ErrorQuotaExceeded; the collection must be listed without delta`);
    this.operation = operation;
    this.status = status;
  }
}

/** The user exists but has no Exchange Online mailbox (or the user does not exist). */
export class MailboxNotFoundError extends MailboxVaultError {
  readonly code = 'MailboxNotFound';
  readonly user: string;
  readonly status: number;

  constructor(user: string, status: number, code: string) {
    super(`No mailbox for '${user}' (${status} ${code})`);
    this.user = user;
    this.status = status;
  }
}

/** The import session's URL is no longer valid (expired or revoked): get a new session and try again. */
export class ImportSessionExpiredError extends MailboxVaultError {
  readonly code = 'ImportSessionExpired';
  readonly status: number;

  constructor(status: number) {
    super(`The import session is no longer valid (${status}); create a new one`);
    this.status = status;
  }
}

/**
 * An item's data did not have the length its import declared (the POST's Content-Length is computed from it):
 * the POST was aborted before its body was complete, so nothing was imported.
 */
export class ImportLengthMismatchError extends MailboxVaultError {
  readonly code = 'ImportLengthMismatch';

  constructor(declared: number, seen: number) {
    super(`The item's data was declared as ${declared} bytes but ${seen > declared ? 'ran past that' : `had ${seen}`}`);
  }
}

/**
 * The import POST was sent but no answer came back (connection dropped, gateway timeout).
 * Exchange may or may not have created the item: check the target (search key) before trying again,
 * or a retry can create a duplicate.
 */
export class ImportOutcomeUnknownError extends MailboxVaultError {
  readonly code = 'ImportOutcomeUnknown';
  readonly reason: string;

  constructor(reason: string) {
    super(`The import may or may not have created the item: ${reason}`);
    this.reason = reason;
  }
}

/** An export response that broke off or did not parse: the batch as a whole must be retried or split. */
export class ExportStreamError extends MailboxVaultError {
  readonly code = 'ExportStreamBroken';
}

/**
 * Whether a 403 says the app may not touch the mailbox (a missing permission, a mailbox outside its RBAC scope).
 * Other 403s (a full mailbox's quota, a folder of its own) keep Graph's code and are not called permission problems.
 */
export function isAccessDenial(status: number, code: string | undefined): boolean {
  return status === 403 && (!code || code === '403' || ACCESS_DENIAL_CODES.has(code));
}

const ACCESS_DENIAL_CODES = new Set(['ErrorAccessDenied', 'AccessDenied', 'Authorization_RequestDenied']);

/**
 * Graph refused the app a mailbox (403): a permission is missing, or the mailbox is outside the app's Exchange
 * RBAC scope. Final: asking again will not help, and the mailbox fails with this message. When the app's token
 * says which roles it carries, the message says which of the two it is.
 */
export class MailboxAccessDeniedError extends GraphRequestError {
  override readonly code = 'MailboxAccessDenied';
  readonly mailboxId: string;
  /** Graph's own code, usually ErrorAccessDenied. */
  readonly graphCode: string;
  /** What the app's token tells about the refusal ('unknown' when the token is opaque). */
  readonly verdict: 'missingPermission' | 'outsideScope' | 'unknown';
  /** The least privileged permission the operation needs, when the client knows the operation. */
  readonly permission: string | undefined;

  constructor(mailboxId: string, details: GraphErrorDetails, tokenRoles?: readonly string[]) {
    super(details);
    const { permission, verdict } = diagnoseDenial(details.operation, tokenRoles);
    const refused = `Access denied to mailbox ${mailboxId} (${details.operation})`;
    const graph = `(${details.status} ${details.code})`;
    if (verdict === 'missingPermission')
      this.message =
        `${refused}: the app lacks the ${permission} application permission (its token ${describeRoles(tokenRoles!)}); ` +
        `grant it with admin consent ${graph}`;
    else if (verdict === 'outsideScope')
      this.message =
        `${refused}: the app's token carries ${permission}, so the mailbox is outside the app's Exchange RBAC ` +
        `for Applications scope (or an application access policy excludes it) ${graph}`;
    else
      this.message =
        `${refused}: the app lacks ${permission ? `the ${permission} permission` : 'a mailbox permission'} ` +
        `or the mailbox is outside its RBAC scope ${graph}`;
    this.mailboxId = mailboxId;
    this.graphCode = details.code;
    this.verdict = verdict;
    this.permission = permission;
  }
}

/**
 * Graph refused a call outside any mailbox (settings/exchange, a group's members) with 403. It keeps Graph's
 * code; when the app's token says which roles it carries, the message says whether the permission is missing.
 */
export class GraphAccessDeniedError extends GraphRequestError {
  readonly verdict: 'missingPermission' | 'outsideScope' | 'unknown';
  readonly permission: string | undefined;

  constructor(details: GraphErrorDetails, tokenRoles?: readonly string[]) {
    super(details);
    const { permission, verdict } = diagnoseDenial(details.operation, tokenRoles);
    if (verdict === 'missingPermission')
      this.message +=
        ` The app lacks the ${permission} application permission (its token ${describeRoles(tokenRoles!)}); ` +
        'grant it with admin consent.';
    else if (verdict === 'outsideScope') this.message += ` (The app's token carries ${permission}.)`;
    this.verdict = verdict;
    this.permission = permission;
  }
}

/** settings/exchange answered 200 without a primaryMailboxId: an error for that user, not "no mailbox". */
export class MailboxIdMissingError extends MailboxVaultError {
  readonly code = 'MailboxIdMissing';
  readonly user: string;

  constructor(user: string) {
    super(`Graph answered settings/exchange for '${user}' without a primaryMailboxId`);
    this.user = user;
  }
}
