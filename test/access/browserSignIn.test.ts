import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_OPERATOR, signIn } from '../../local/host/easyAuth.js';
import { newBrowserSessions, serveAuthRoute } from '../../local/host/easyAuthLogin.js';
import { parseClientPrincipal } from '../../shared/access/principal.js';
import { ROLES } from '../../shared/access/roles.js';

/**
 * The local host's browser sign-in, as App Service Authentication behaves: `/.auth/login/aad` signs a browser in
 * (here as a chosen user) and sets `AppServiceAuthSession`; that cookie is the user on later requests; a redirect
 * goes only to a path of this origin; `/.auth/logout` ends the session. Without a cookie (or after logout) the caller
 * is whoever the host signs in by default: nobody here, so 401.
 */
const sessions = newBrowserSessions();
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    void (async () => {
      if (await serveAuthRoute(req, res, url, sessions)) return;
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const result = await signIn(headers, undefined, { operator: null }, sessions);
      if ('status' in result) return res.writeHead(401).end();
      const caller = parseClientPrincipal(result.headers['x-ms-client-principal']!, null);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(caller));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function login(form: Record<string, string | string[]>) {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) for (const v of [value].flat()) body.append(name, v);
  return fetch(`${base}/.auth/login/aad`, { method: 'POST', body, redirect: 'manual' });
}

const cookieOf = (response: Response) => response.headers.get('set-cookie')!.split(';')[0]!;

describe('browser sign-in on the local host', () => {
  it('serves a sign-in page that keeps the redirect', async () => {
    const page = await fetch(`${base}/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fportal%2F`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="post_login_redirect_uri" value="/api/portal/"');
  });

  it('signs a user in with the roles ticked, by cookie, back to a path of this origin', async () => {
    const answer = await login({
      upn: 'Adele@Contoso.example',
      role: [ROLES.restorer],
      post_login_redirect_uri: '/api/portal/',
    });
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/api/portal/');
    expect(answer.headers.get('set-cookie')).toMatch(/^AppServiceAuthSession=[0-9a-f]{48}; Path=\/; HttpOnly/);
    const me = (await (await fetch(`${base}/api/me`, { headers: { cookie: cookieOf(answer) } })).json()) as {
      oid: string;
    };
    expect(me).toMatchObject({ kind: 'user', upn: 'adele@contoso.example', roles: ['restorer'] });
    // The same user gets the same object id at every sign-in: their restores stay theirs.
    const again = await login({ upn: 'adele@contoso.example' });
    const second = await (await fetch(`${base}/api/me`, { headers: { cookie: cookieOf(again) } })).json();
    expect(second).toMatchObject({ oid: me.oid, roles: [] });
  });

  it('signs in the local operator with every role', async () => {
    const answer = await login({ who: 'operator' });
    const me = await (await fetch(`${base}/api/me`, { headers: { cookie: cookieOf(answer) } })).json();
    expect(me).toMatchObject({ upn: LOCAL_OPERATOR.upn, roles: ['reader', 'operator', 'restorer'] });
  });

  it('never redirects to another site', async () => {
    for (const target of ['https://evil.example/', '//evil.example/x', '/\\evil.example'])
      expect(
        (await login({ upn: 'adele@contoso.example', post_login_redirect_uri: target })).headers.get('location'),
      ).toBe('/');
  });

  it('refuses a sign-in without a user, and a request with an unknown cookie', async () => {
    expect((await login({ upn: 'not a upn' })).status).toBe(400);
    expect((await fetch(`${base}/api/me`, { headers: { cookie: 'AppServiceAuthSession=forged' } })).status).toBe(401);
  });

  it('ends the session at /.auth/logout', async () => {
    const cookie = cookieOf(await login({ upn: 'adele@contoso.example' }));
    const out = await fetch(`${base}/.auth/logout?post_logout_redirect_uri=%2Fapi%2Fportal%2Fsigned-out`, {
      headers: { cookie },
      redirect: 'manual',
    });
    expect(out.status).toBe(302);
    expect(out.headers.get('location')).toBe('/api/portal/signed-out');
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    expect((await fetch(`${base}/api/me`, { headers: { cookie } })).status).toBe(401);
  });
});
