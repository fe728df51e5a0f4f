import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { ROLES } from '../shared/access/roles.js';
import { getServices } from '../shared/services.js';
import { authorizationOf, registerApiRoute } from './http.js';

/**
 * `GET /api/me`: who the platform says is calling, with the roles the app recognises, and whether self-service
 * lets them browse and restore their own mailbox (MAILBOX_VAULT_SELF_SERVICE, users only). The portal shows what
 * this allows and nothing more; every route still checks on its own.
 */
export async function me(request: HttpRequest): Promise<HttpResponseInit> {
  const { caller } = authorizationOf(request);
  const { config } = await getServices();
  const selfService = config.access.selfService && caller.kind === 'user';
  return {
    status: 200,
    headers: { 'Cache-Control': 'no-store' },
    jsonBody: {
      kind: caller.kind,
      oid: caller.oid,
      upn: caller.upn,
      name: caller.name,
      roles: caller.roles,
      appRoles: caller.roles.map((role) => ROLES[role]),
      selfService,
      // The mailbox self-service covers: the signed-in user's own, named as the directory names it.
      ownMailbox: selfService ? caller.upn : null,
    },
  };
}

// Anyone signed in with a role, or any user when self-service is on; a user with neither hears why (403 `role`).
registerApiRoute('me', 'GET', 'me', { role: 'reader', selfService: true }, me);
