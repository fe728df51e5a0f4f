import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLocalSettingsFile } from '../settingsFile.js';

/** The app's HTTP API, deployed or in this process. */
export interface Api {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /** GETs a file (an EML, MBOX or ZIP) into `outPath`, streamed; on an error status, the answer's JSON instead. */
  save(path: string, outPath: string): Promise<{ status: number; bytes: number; body?: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Gives the bearer token for each call (undefined: none, as for the local host's local operator). */
export type AccessToken = () => Promise<string | undefined>;

/**
 * How the CLI signs in to a deployed app: MAILBOX_VAULT_ACCESS_TOKEN as it is, or a token for the API's scope
 * from @azure/identity's DefaultAzureCredential (AZURE_CLIENT_ID / _SECRET / _TENANT_ID, a managed identity, or
 * the Azure CLI's signed-in user), which App Service Authentication validates; the roles come with it.
 */
export function accessTokenFor(scope: string | undefined): AccessToken {
  const fixed = process.env.MAILBOX_VAULT_ACCESS_TOKEN;
  if (fixed) return async () => fixed;
  if (!scope) return async () => undefined;
  let credential: Promise<{ getToken(scope: string): Promise<{ token: string } | null> }> | undefined;
  return async () => {
    // Loaded only here: in-process calls need no identity library.
    credential ??= import('@azure/identity').then((identity) => {
      const { AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: client, AZURE_CLIENT_SECRET: secret } = process.env;
      const authorityHost = process.env.AZURE_AUTHORITY_HOST;
      // An authority Entra's instance discovery does not know (the simulator's): the app's secret, asked directly.
      if (tenant && client && secret && authorityHost && /^https:\/\/(127\.|localhost)/.test(authorityHost))
        return new identity.ClientSecretCredential(tenant, client, secret, {
          authorityHost,
          disableInstanceDiscovery: true,
        });
      return new identity.DefaultAzureCredential();
    });
    const token = await (await credential).getToken(scope);
    if (!token) throw new Error(`No token for ${scope}: sign in (az login) or set AZURE_CLIENT_ID and a secret`);
    return token.token;
  };
}

export async function remoteApi(url: string, accessToken: AccessToken): Promise<Api> {
  const base = url.replace(/\/+$/, '');
  return {
    async call(method, path, body) {
      const token = await accessToken();
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: parseBody(await response.text()) };
    },
    async save(path, outPath) {
      const token = await accessToken();
      const response = await fetch(`${base}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (response.status >= 400 || !response.body)
        return { status: response.status, bytes: 0, body: parseBody(await response.text()) };
      let bytes = 0;
      const source = Readable.fromWeb(response.body as never).on('data', (c: Buffer) => (bytes += c.length));
      await pipeline(source, createWriteStream(outPath));
      return { status: response.status, bytes };
    },
    close: async () => undefined,
  };
}

function parseBody(text: string): Record<string, unknown> {
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return { error: { title: text.slice(0, 300) } };
  }
}

/** The app served by the local host on a free port, with settings as for `npm start`. */
export async function inProcessApi(): Promise<Api> {
  applyLocalSettingsFile();
  process.env.MAILBOX_VAULT_GRAPH_LOG ??= 'quiet';
  // Loaded only here: a call to a deployed app (--url) needs none of the app's code.
  const { startLocalApp } = await import('../host/localApp.js');
  // Its task hub lives in this process, beside whatever app works on the same vault: it cannot tell that an
  // instance it never started does not exist there (maintenance would take a running restore for abandoned).
  const app = await startLocalApp({ port: 0, clock: 'real', knowsOnlyItsOwnInstances: true });
  const api = await remoteApi(app.baseUrl, async () => undefined);
  return { call: api.call, save: api.save, close: () => app.close() };
}
