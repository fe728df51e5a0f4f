import type { IncomingMessage } from 'node:http';
import type { RegisteredApp } from './apps.js';
import { JWT_BEARER, verifyClientAssertion } from './clientAssertion.js';
import { EntraError, sendEntraError } from './entraErrors.js';
import { originOf, readSmallBody, sendJson } from './http.js';
import { KEY_VAULT_RESOURCE } from './keyVault.js';
import type { SimRequest } from './request.js';
import type { SimulatorState } from './state.js';
import { GRAPH_RESOURCE, issueAccessToken, MAILBOX_VAULT_API_RESOURCE, signingKeySet } from './tokens.js';

/**
 * Entra ID's v2.0 endpoints for the client-credentials flow, as MSAL (under @azure/identity) uses them: OpenID
 * discovery, then `POST /{tenant}/oauth2/v2.0/token` with a client secret or a certificate-signed assertion.
 * The issued token carries the roles granted to the app registration.
 */

/** POST /{tenant}/oauth2/v2.0/token */
export async function requestToken({ state, req, res, params }: SimRequest): Promise<void> {
  const form = new URLSearchParams(await readSmallBody(req));
  try {
    const tenant = requireTenant(state, params.tenantId!);
    if (form.get('grant_type') !== 'client_credentials')
      throw new EntraError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const app = authenticate(state, form, tokenEndpoints(req, params.tenantId!, tenant));
    const resource = resourceOf(form.get('scope'), tenant);
    const { token } = issueAccessToken(state, {
      audience: resource,
      // Application permissions are Graph's app roles; the mailbox-vault API has its own. Key Vault has none.
      roles: new Set(
        resource === GRAPH_RESOURCE ? app.roles : resource === MAILBOX_VAULT_API_RESOURCE ? app.apiRoles : [],
      ),
      clientId: app.clientId,
      principal: 'application',
    });
    state.identityLog.push({
      kind: 'token',
      clientId: app.clientId,
      method: form.has('client_assertion') ? 'certificate' : 'secret',
      resource,
    });
    const lifetime = state.settings.tokenLifetimeSeconds;
    sendJson(res, 200, { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token });
  } catch (error) {
    if (!(error instanceof EntraError)) throw error;
    sendEntraError(res, error);
  }
}

/** GET /{tenant}/v2.0/.well-known/openid-configuration: where MSAL finds the token endpoint. */
export function openIdConfiguration({ state, req, res, params }: SimRequest): void {
  const tenant = params.tenantId!;
  if (tenant !== state.tenant.tenantId) {
    sendJson(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${tenant}' not found.` });
    return;
  }
  const origin = originOf(req);
  sendJson(res, 200, {
    token_endpoint: `${origin}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${origin}/${tenant}/v2.0`,
    authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${origin}/${tenant}/oauth2/v2.0/logout`,
    tenant_region_scope: null,
    cloud_instance_name: 'simulator',
  });
}

/** GET /{tenant}/discovery/v2.0/keys: the key tokens are signed with. */
export function signingKeys({ res }: SimRequest): void {
  sendJson(res, 200, signingKeySet());
}

function requireTenant(state: SimulatorState, tenant: string): string {
  if (tenant === state.tenant.tenantId) return tenant;
  throw new EntraError(
    400,
    'invalid_request',
    90002,
    `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
  );
}

/** The app, if the request proves to be it with a client secret or a certificate-signed assertion. */
function authenticate(state: SimulatorState, form: URLSearchParams, endpoints: string[]): RegisteredApp {
  const clientId = form.get('client_id') ?? '';
  const app = state.apps.get(clientId);
  if (!app)
    throw new EntraError(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${state.tenant.tenantId}'.`,
    );
  const assertion = form.get('client_assertion');
  const secret = form.get('client_secret');
  if (assertion !== null) {
    if (form.get('client_assertion_type') !== JWT_BEARER)
      throw new EntraError(400, 'invalid_request', 50027, `client_assertion_type must be '${JWT_BEARER}'.`);
    verifyClientAssertion(assertion, app, endpoints);
    return app;
  }
  if (secret === null)
    throw new EntraError(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    );
  if (app.clientSecret === undefined || secret !== app.clientSecret)
    throw new EntraError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
    );
  return app;
}

/** The client-credentials flow asks for `{resource}/.default`, one resource at a time. */
function resourceOf(scope: string | null, tenant: string): string {
  const scopes = (scope ?? '').split(' ').filter(Boolean);
  if (scopes.length !== 1 || !scopes[0]!.endsWith('/.default'))
    throw new EntraError(
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  const resource = scopes[0]!.slice(0, -'/.default'.length).replace(/\/+$/, '');
  if (resource === GRAPH_RESOURCE || resource === KEY_VAULT_RESOURCE || resource === MAILBOX_VAULT_API_RESOURCE)
    return resource;
  throw new EntraError(
    400,
    'invalid_resource',
    500011,
    `The resource principal named ${resource} was not found in the tenant named ${tenant}.`,
  );
}

/** The audiences an assertion may name: this token endpoint, reached by the tenant in the path or its id. */
function tokenEndpoints(req: IncomingMessage, pathTenant: string, tenantId: string): string[] {
  const origin = originOf(req);
  return [...new Set([pathTenant, tenantId])].map((tenant) => `${origin}/${tenant}/oauth2/v2.0/token`);
}
