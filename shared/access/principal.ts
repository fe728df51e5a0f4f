import type { Role } from './roles.js';
import { rolesOf } from './roles.js';

/** A caller the platform has authenticated: a user, or an application (automation) with its own identity. */
export interface Caller {
  kind: 'user' | 'application';
  /** Entra object id of the user or service principal. */
  oid: string;
  /** The user's principal name; null for an application. */
  upn: string | null;
  /** For the audit record: UPN, else the display name, else the app id. */
  name: string;
  roles: Role[];
  /** The address the platform saw the request come from. */
  clientAddress: string | null;
}

/** App Service Authentication's `x-ms-client-principal`: the token's claims, base64-encoded JSON. */
interface ClientPrincipal {
  auth_typ?: string;
  name_typ?: string;
  role_typ?: string;
  claims?: { typ: string; val: string }[];
}

// Easy Auth passes claims under their short JWT names for access tokens and under the WS-* names for id tokens.
const CLAIM_NAMES = {
  oid: ['oid', 'http://schemas.microsoft.com/identity/claims/objectidentifier'],
  upn: ['upn', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn', 'preferred_username'],
  name: ['name', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'],
  roles: ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'],
  appId: ['appid', 'azp'],
  idType: ['idtyp'],
} as const;

export class PrincipalHeaderError extends Error {}

/** The caller a `x-ms-client-principal` header names; throws when it is not one App Service would write. */
export function parseClientPrincipal(header: string, clientAddress: string | null): Caller {
  let principal: ClientPrincipal;
  try {
    principal = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ClientPrincipal;
  } catch {
    throw new PrincipalHeaderError('x-ms-client-principal is not base64-encoded JSON');
  }
  const claims = Array.isArray(principal.claims) ? principal.claims : [];
  const all = (names: readonly string[]) =>
    claims.filter((c) => typeof c?.val === 'string' && names.includes(c.typ)).map((c) => c.val);
  const first = (names: readonly string[]) => all(names)[0];
  const oid = first(CLAIM_NAMES.oid);
  if (!oid) throw new PrincipalHeaderError('x-ms-client-principal carries no object id (oid) claim');
  const roleNames = principal.role_typ ? [principal.role_typ, ...CLAIM_NAMES.roles] : CLAIM_NAMES.roles;
  const upn = first(CLAIM_NAMES.upn) ?? null;
  const appId = first(CLAIM_NAMES.appId);
  // An app-only token has no UPN; `idtyp: app` says so outright where the app registration asks for it.
  const kind = first(CLAIM_NAMES.idType) === 'app' || (!upn && appId) ? 'application' : 'user';
  return {
    kind,
    oid,
    upn: kind === 'user' ? upn : null,
    name: (kind === 'user' ? upn : undefined) ?? first(CLAIM_NAMES.name) ?? appId ?? oid,
    roles: rolesOf(all(roleNames)),
    clientAddress,
  };
}

/** Builds the header App Service would send for these claims (the local host signs callers in with it). */
export function encodeClientPrincipal(claims: Record<string, string | string[] | undefined>): string {
  const list = Object.entries(claims).flatMap(([typ, value]) =>
    value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((val) => ({ typ, val })),
  );
  const principal: ClientPrincipal = { auth_typ: 'aad', name_typ: 'name', role_typ: 'roles', claims: list };
  return Buffer.from(JSON.stringify(principal)).toString('base64');
}
