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
