import { sendJson } from './http.js';
import type { SimRequest } from './request.js';
import { issueAccessToken } from './tokens.js';

/**
 * GET /msi/token?api-version=2019-08-01&resource=…: the managed identity endpoint App Service and Azure
 * Functions give an app (IDENTITY_ENDPOINT, with IDENTITY_HEADER as a shared secret), so the real
 * ManagedIdentityCredential gets the app's own tokens here, for Key Vault. Plain HTTP on loopback, as there.
 */
export function managedIdentityToken({ state, req, res, url }: SimRequest): void {
  if (req.headers['x-identity-header'] !== state.identityHeader) {
    sendJson(res, 401, { statusCode: 401, message: 'Unauthorized: X-IDENTITY-HEADER is missing or wrong.' });
    return;
  }
  const resource = url.searchParams.get('resource')?.replace(/\/+$/, '');
  if (url.searchParams.get('api-version') !== '2019-08-01' || !resource) {
    sendJson(res, 400, {
      statusCode: 400,
      message: 'The request must carry api-version=2019-08-01 and a resource.',
    });
    return;
  }
  const clientId = url.searchParams.get('client_id');
  if (clientId !== null && clientId !== state.managedIdentityClientId) {
    sendJson(res, 400, { statusCode: 400, message: `No managed identity with client id '${clientId}' on this app.` });
    return;
  }
  const { token, expiresOnTimestamp } = issueAccessToken(state, {
    audience: resource,
    roles: new Set(),
    clientId: state.managedIdentityClientId,
    principal: 'managedIdentity',
  });
  state.identityLog.push({ kind: 'managedIdentityToken', resource });
  sendJson(res, 200, {
    access_token: token,
    expires_on: String(Math.floor(expiresOnTimestamp / 1000)),
    resource,
    token_type: 'Bearer',
    client_id: state.managedIdentityClientId,
  });
}
