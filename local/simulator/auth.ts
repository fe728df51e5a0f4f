import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readSmallBody, SimHttpError, sendJson } from './http.js';
import type { SimRequest } from './request.js';
import type { SimulatorState } from './state.js';

/** Issues a token as the token endpoint does. */
export function issueToken(state: SimulatorState): { token: string; expiresOnTimestamp: number } {
  const token = `sim-${randomBytes(24).toString('base64url')}`;
  const expiresOnTimestamp = Date.now() + state.settings.tokenLifetimeSeconds * 1000;
  state.issuedTokens.set(token, expiresOnTimestamp);
  return { token, expiresOnTimestamp };
}

/** Every Graph request needs a bearer token that is static or issued and not yet expired. */
export function checkBearer(state: SimulatorState, req: IncomingMessage): void {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
  const token = match[1]!;
  if (state.staticTokens.has(token)) return;
  const expires = state.issuedTokens.get(token);
  if (expires === undefined || expires < Date.now())
    throw new SimHttpError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
}

/** POST /{tenant}/oauth2/v2.0/token: OAuth2 client credentials, answered in Entra ID's shape. */
export async function requestToken({ state, req, res }: SimRequest): Promise<void> {
  const form = new URLSearchParams(await readSmallBody(req));
  if (form.get('grant_type') !== 'client_credentials') {
    sendJson(res, 400, {
      error: 'unsupported_grant_type',
      error_description: 'Only client_credentials is supported by the simulator.',
    });
    return;
  }
  const clients = state.settings.clients ?? [];
  const client = clients.find((c) => c.clientId === form.get('client_id'));
  if (!client || client.clientSecret !== form.get('client_secret')) {
    sendJson(res, 401, {
      error: 'invalid_client',
      error_description: 'AADSTS7000215: Invalid client secret provided.',
    });
    return;
  }
  const { token } = issueToken(state);
  sendJson(res, 200, {
    token_type: 'Bearer',
    expires_in: state.settings.tokenLifetimeSeconds,
    ext_expires_in: state.settings.tokenLifetimeSeconds,
    access_token: token,
  });
}

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
