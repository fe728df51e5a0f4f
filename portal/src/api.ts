import { accessToken } from './session.js';

/** A refusal or failure of the API, with its title and every problem it named (what the page shows). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly errors: string[],
  ) {
    super(`${title}${errors.length ? `: ${errors.join('; ')}` : ''}`);
  }
}

/**
 * Calls the app's API at /api/{path} as the signed-in browser (App Service Authentication's session cookie, or the
 * pasted token); throws ApiError on any 4xx or 5xx.
 */
export async function api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const token = init.token ?? accessToken();
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`/api/${path}`, {
      method: init.method ?? 'GET',
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  } catch (error) {
    throw new ApiError(0, 'The app did not answer', [(error as Error).message]);
  }
  const text = await response.text();
  const json = text ? safeJson(text) : undefined;
  if (response.ok) return json as T;
  const problem = (json as { error?: { title?: string; errors?: string[] } } | undefined)?.error;
  throw new ApiError(
    response.status,
    problem?.title ?? refusalTitle(response.status),
    problem?.errors ?? (problem ? [] : [text.slice(0, 300)].filter(Boolean)),
  );
}

/**
 * Fetches a file of the API as the signed-in browser (a plain link would carry no pasted token) and hands it to the browser
 * as a download named `fileName`; throws ApiError as `api` does.
 */
export async function downloadFile(path: string, fileName: string): Promise<void> {
  const token = accessToken();
  const response = await fetch(`/api/${path}`, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  if (!response.ok) {
    const text = await response.text();
    const problem = (safeJson(text) as { error?: { title?: string; errors?: string[] } } | undefined)?.error;
    throw new ApiError(response.status, problem?.title ?? refusalTitle(response.status), problem?.errors ?? []);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement('a'), { href: url, download: fileName });
  document.body.append(link);
  link.click();
  link.remove();
  // After the click has handed the file over.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function refusalTitle(status: number): string {
  if (status === 401) return 'Not signed in, or the sign-in has expired';
  if (status === 403) return 'You are not allowed to do this';
  if (status === 404) return 'Not found';
  return `The app answered ${status}`;
}

/** Query string from the values given (empty ones left out). */
export function query(values: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values))
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  return params.toString();
}
