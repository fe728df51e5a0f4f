import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROLES } from '../../shared/access/roles.js';
import { LOCAL_OPERATOR, type LocalOperator } from './easyAuth.js';

/**
 * The browser half of App Service Authentication, played locally: `/.auth/login/aad` (in Azure a redirect to Entra
 * ID; here a page that signs the browser in as a chosen local user), the session cookie `AppServiceAuthSession`
 * that later requests carry (easyAuth.ts turns it into `x-ms-client-principal`), and `/.auth/logout`. Redirects go
 * to paths of this origin only, as Easy Auth allows without `allowedExternalRedirectUrls`. Sessions live as long
 * as the process: a restart signs every browser out.
 */
export const SESSION_COOKIE = 'AppServiceAuthSession';

export type BrowserSessions = Map<string, LocalOperator>;

export function newBrowserSessions(): BrowserSessions {
  return new Map();
}

/** The signed-in user of a request's session cookie, if it names a live session. */
export function sessionUser(cookieHeader: string | undefined, sessions: BrowserSessions): LocalOperator | undefined {
  const id = sessionIdOf(cookieHeader);
  return id ? sessions.get(id) : undefined;
}

function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, value] = part.trim().split('=');
    if (name === SESSION_COOKIE && value) return value;
  }
  return undefined;
}

/** Answers a `/.auth/…` request; false when the path is not one of Easy Auth's. */
export async function serveAuthRoute(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  sessions: BrowserSessions,
): Promise<boolean> {
  const method = (req.method ?? 'GET').toUpperCase();
  if (url.pathname === '/.auth/login/aad' && method === 'GET') {
    const redirect = localRedirect(url.searchParams.get('post_login_redirect_uri'));
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(loginPage(redirect));
    return true;
  }
  if (url.pathname === '/.auth/login/aad' && method === 'POST') {
    const form = new URLSearchParams(await readText(req));
    const user = chosenUser(form);
    if (!user) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('A user principal name is required');
      return true;
    }
    const id = randomBytes(24).toString('hex');
    sessions.set(id, user);
    res.writeHead(302, {
      Location: localRedirect(form.get('post_login_redirect_uri')),
      'Set-Cookie': `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`,
    });
    res.end();
    return true;
  }
  if (url.pathname === '/.auth/logout') {
    const id = sessionIdOf(req.headers.cookie);
    if (id) sessions.delete(id);
    res.writeHead(302, {
      Location: localRedirect(url.searchParams.get('post_logout_redirect_uri')),
      'Set-Cookie': `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`,
    });
    res.end();
    return true;
  }
  return false;
}

/** A path of this origin; anything else (another site, `//host`) falls back to the root, as Easy Auth refuses it. */
function localRedirect(value: string | null): string {
  return value && value.startsWith('/') && !value.startsWith('//') && !value.includes('\\') ? value : '/';
}

/** The local operator, or a user by UPN with the app roles ticked (none: a self-service user). */
function chosenUser(form: URLSearchParams): LocalOperator | undefined {
  if (form.get('who') === 'operator') return LOCAL_OPERATOR;
  const upn = form.get('upn')?.trim().toLowerCase();
  if (!upn || !/^[^@\s]+@[^@\s]+$/.test(upn)) return undefined;
  const roles = Object.values(ROLES).filter((role) => form.getAll('role').includes(role));
  return { oid: objectIdFor(upn), upn, name: upn, roles };
}

/** A stable object id per UPN, so a user's restores stay theirs across sign-ins (the policy matches on it). */
function objectIdFor(upn: string): string {
  const hex = createHash('sha256').update(`local-user:${upn}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Stands in for Entra ID's sign-in page: who this browser is, locally. Plain HTML, no script. */
function loginPage(redirect: string): string {
  const hidden = `<input type="hidden" name="post_login_redirect_uri" value="${escape(redirect)}">`;
  const roleBoxes = Object.entries(ROLES)
    .map(
      ([key, value]) =>
        `<div><input type="checkbox" id="role-${key}" name="role" value="${value}"> <label for="role-${key}">${value}</label></div>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in (local App Service Authentication)</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; color: #1a1a1a">
<main>
<h1>Sign in to mailbox-vault</h1>
<p>This machine plays App Service Authentication: in Azure this is Entra ID's sign-in page. Choose who this browser is.</p>
<form method="post" action="/.auth/login/aad">${hidden}
<input type="hidden" name="who" value="operator">
<button type="submit">Sign in as the local operator (${escape(LOCAL_OPERATOR.upn)}, every role)</button>
</form>
<h2>Or as a user of the tenant</h2>
<form method="post" action="/.auth/login/aad">${hidden}
<div><label for="upn">User principal name</label> <input id="upn" name="upn" type="email" required></div>
<fieldset><legend>App roles (none: self-service, with MAILBOX_VAULT_SELF_SERVICE=true)</legend>
${roleBoxes}
</fieldset>
<button type="submit">Sign in as this user</button>
</form>
</main>
</body></html>`;
}
