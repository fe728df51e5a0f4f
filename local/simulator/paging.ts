import type { IncomingMessage } from 'node:http';
import type { GraphRequest } from './request.js';

/** An absolute Graph URL on this simulator, for next and delta links. */
export function graphLink({ state, version }: GraphRequest, path: string, params: Record<string, string>): string {
  const url = new URL(`${state.baseUrl}/${version}${path}`);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.toString();
}

/** One $top/$skip page of a list, with the link to the next page when there is one. */
export function pageOf<T>(
  request: GraphRequest,
  all: T[],
  path: string,
  defaultTop: number,
): { value: T[]; nextLink?: string } {
  const query = request.url.searchParams;
  const top = Math.min(1000, Math.max(1, Number(query.get('$top') ?? defaultTop) || defaultTop));
  const skip = Math.max(0, Number(query.get('$skip') ?? 0) || 0);
  const value = all.slice(skip, skip + top);
  if (skip + top >= all.length) return { value };
  const params = Object.fromEntries(query.entries());
  return { value, nextLink: graphLink(request, path, { ...params, $top: String(top), $skip: String(skip + top) }) };
}

/** A list answer: its context, the page, and the next link when there is one. */
export function listBody(context: string, page: { value: unknown[]; nextLink?: string }): Record<string, unknown> {
  return {
    '@odata.context': context,
    value: page.value,
    ...(page.nextLink ? { '@odata.nextLink': page.nextLink } : {}),
  };
}

/** `Prefer: odata.maxpagesize=N`, as delta queries page by it. */
export function maxPageSize(req: IncomingMessage): number {
  const match = /odata\.maxpagesize=(\d+)/i.exec(String(req.headers.prefer ?? ''));
  return match ? Math.max(1, Math.min(1000, Number(match[1]))) : 100;
}
