/**
 * How this tab signs in. Deployed, App Service Authentication holds the browser's session (its cookie goes with
 * every call to the API); `npm start`'s host plays it, and lets its local operator in without one. The fallback is
 * an Entra ID access token pasted once, which this tab keeps (sessionStorage: gone with the tab), for an app whose
 * API registration does not let browsers sign in (README, Portal).
 */
const TOKEN_KEY = 'mailbox-vault.accessToken';

/** Where the portal lives; App Service Authentication brings the browser back here after sign-in. */
export const PORTAL_PATH = '/api/portal/';
/** The portal's page after sign-out: it shows the sign-in page without asking the API first. */
export const SIGNED_OUT_PATH = `${PORTAL_PATH}signed-out`;

/** App Service Authentication's sign-in with Entra ID, back to the portal afterwards. */
export const SIGN_IN_URL = `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent(PORTAL_PATH)}`;
export const SIGN_OUT_URL = `/.auth/logout?post_logout_redirect_uri=${encodeURIComponent(SIGNED_OUT_PATH)}`;

export function accessToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function saveAccessToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetAccessToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}
