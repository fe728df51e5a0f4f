import { MailboxVaultError } from '../errors.js';

/** The rules a call can be refused by (403), each named in the answer and in the audit record. */
export type AccessRule =
  | 'role'
  | 'backupScope'
  | 'restoreSourceScope'
  | 'restoreTargetScope'
  | 'restoreTargetAllowList'
  | 'restoreIntoOtherMailbox'
  | 'selfServiceOwnMailbox'
  | 'selfServiceOwnRestore'
  | 'mailboxIdLookup'
  | 'crossSite';

/** A call the roles or the restore policy do not allow: the API answers 403 naming the rule. */
export class AccessRefusal extends MailboxVaultError {
  readonly code = 'AccessRefused';
  constructor(
    readonly rule: AccessRule,
    message: string,
    readonly errors: string[] = [],
  ) {
    super(message);
  }
}
