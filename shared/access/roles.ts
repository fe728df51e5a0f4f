/**
 * The API's roles: app roles on the API's app registration (infra/app/api-registration.bicep), given to users,
 * groups and service principals in Entra ID. A route names the least role it needs; the operator and the
 * restorer can also do everything a reader can.
 */
export const ROLES = {
  reader: 'MailboxVault.Reader',
  operator: 'MailboxVault.Operator',
  restorer: 'MailboxVault.Restorer',
} as const;

export type Role = keyof typeof ROLES;

export const ROLE_NAMES = Object.keys(ROLES) as Role[];

/** What a caller holding `held` may do where a route asks for `needed`. */
export function grants(held: readonly Role[], needed: Role): boolean {
  if (held.includes(needed)) return true;
  return needed === 'reader' && held.length > 0;
}

/** The roles among a token's role claims (app role values); anything else is not ours and ignored. */
export function rolesOf(claimValues: readonly string[]): Role[] {
  const values = new Set(claimValues.map((v) => v.toLowerCase()));
  return ROLE_NAMES.filter((role) => values.has(ROLES[role].toLowerCase()));
}
