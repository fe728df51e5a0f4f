import { SimHttpError } from './http.js';
import type { SimulatorState } from './state.js';

/** How settings/exchange answers for one user, when a test scripts it otherwise than plainly. */
export type ExchangeSettingsAnswer =
  | 'valueWrapper' // the entity inside a one-entry `value` array
  | 'withoutId' // a 200 without primaryMailboxId
  | 'badRequest' // 400, as Graph answers for some user objects
  | 'accessDenied'; // 403 for this user alone

/** What the app may not read: opt-in per test, through the Simulator handle or the control API. */
export interface AccessRules {
  /** Mailboxes (by id) refused to the app, each with the operations refused; an empty set refuses them all. */
  readonly deniedMailboxes: Map<string, ReadonlySet<string>>;
  /** settings/exchange answers scripted per user (lower-cased UPN). */
  readonly exchangeSettings: Map<string, ExchangeSettingsAnswer>;
}

export function noAccessRules(): AccessRules {
  return { deniedMailboxes: new Map(), exchangeSettings: new Map() };
}

/**
 * A mailbox outside the app's RBAC scope, or an operation whose permission the app lacks, is Graph's 403
 * ErrorAccessDenied. Checked after admission, so the refused request shows in the mailbox's counters.
 */
export function checkMailboxAccess(state: SimulatorState, mailboxId: string, operation: string): void {
  const denied = state.access.deniedMailboxes.get(mailboxId);
  if (denied && (denied.size === 0 || denied.has(operation))) throw accessDenied();
}

export function accessDenied(): SimHttpError {
  return new SimHttpError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
}
