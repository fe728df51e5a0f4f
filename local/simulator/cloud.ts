import type { IncomingMessage, ServerResponse } from 'node:http';
import { openIdConfiguration, requestToken, signingKeys } from './entra.js';
import { SimHttpError, sendFailure } from './http.js';
import { getSecret } from './keyVault.js';
import type { SimRequest } from './request.js';
import { findRoute, type Route } from './router.js';
import type { SimulatorState } from './state.js';

/**
 * The HTTPS listener: the Azure services the app reaches before Graph, as it reaches them in Azure, over TLS
 * with a certificate the client must trust. Entra ID (OpenID discovery, keys, the token endpoint) and one Key
 * Vault (`*.vault.localhost`); Graph itself stays on the plain listener.
 */
const CLOUD_ROUTES: ReadonlyArray<Route<SimRequest>> = [
  { method: 'GET', pattern: '{tenantId}/v2.0/.well-known/openid-configuration', handler: openIdConfiguration },
  { method: 'GET', pattern: '{tenantId}/discovery/v2.0/keys', handler: signingKeys },
  { method: 'POST', pattern: '{tenantId}/oauth2/v2.0/token', handler: requestToken },
  { method: 'GET', pattern: 'secrets/{name}', handler: getSecret },
  { method: 'GET', pattern: 'secrets/{name}/{version}', handler: getSecret },
];

export function handleCloudRequest(state: SimulatorState, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'https://localhost');
  const segments = url.pathname.split('/').filter(Boolean).map(safeDecode);
  const found = findRoute(CLOUD_ROUTES, req.method ?? 'GET', segments);
  Promise.resolve()
    .then(() => {
      if (!found) throw new SimHttpError(404, 'NotFound', "No such endpoint on the simulator's HTTPS listener.");
      return found.route.handler({ state, req, res, url, params: found.params });
    })
    .catch((error: unknown) => sendFailure(res, error));
}

/** A malformed escape stays as sent: it then matches no route, a 404 rather than a crash. */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
