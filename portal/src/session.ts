/**
 * Who is signed in to this tab. On `npm start` the local host lets its operator in without a token; in Azure the
 * API (behind App Service Authentication) wants an Entra ID access token for it, which the operator gives once and
 * this tab keeps (sessionStorage: gone with the tab).
 */
export interface Session {
  user: string;
  accessToken?: string;
}

const KEY = 'mailbox-vault.session';

export function currentSession(): Session | undefined {
  const text = sessionStorage.getItem(KEY);
  return text ? (JSON.parse(text) as Session) : undefined;
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function endSession(): void {
  sessionStorage.removeItem(KEY);
}
