import { applyLocalSettingsFile } from '../settingsFile.js';

/** The app's HTTP API, deployed or in this process. */
export interface Api {
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function remoteApi(url: string, key: string | undefined): Promise<Api> {
  const base = url.replace(/\/+$/, '');
  return {
    async call(method, path, body) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(key ? { 'x-functions-key': key } : {}),
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: parseBody(await response.text()) };
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
  const app = await startLocalApp({ port: 0, clock: 'real' });
  const api = await remoteApi(app.baseUrl, undefined);
  return { call: api.call, close: () => app.close() };
}
