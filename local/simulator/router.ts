/**
 * Path patterns for the route tables. A pattern is segments joined by '/': a literal matches itself, `{name}`
 * matches any one segment and captures it (already URL-decoded), and a trailing `*` matches any further
 * segments, which are ignored.
 */
export type Params = Record<string, string>;

export interface RouteEntry {
  readonly method: string;
  readonly pattern: string;
  /** When present, the route matches only if this accepts the captured segments. */
  readonly where?: (params: Params) => boolean;
}

export function matchPattern(pattern: string, segments: readonly string[]): Params | undefined {
  const parts = pattern.split('/');
  const openEnded = parts.at(-1) === '*';
  if (openEnded) parts.pop();
  if (openEnded ? segments.length < parts.length : segments.length !== parts.length) return undefined;
  const params: Params = {};
  for (const [index, part] of parts.entries()) {
    const segment = segments[index]!;
    if (part.startsWith('{') && part.endsWith('}')) params[part.slice(1, -1)] = segment;
    else if (part !== segment) return undefined;
  }
  return params;
}

/** The first route of the table that matches the method and path, with what it captured. */
export function findRoute<Route extends RouteEntry>(
  routes: readonly Route[],
  method: string,
  segments: readonly string[],
): { route: Route; params: Params } | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    const params = matchPattern(route.pattern, segments);
    if (params && (!route.where || route.where(params))) return { route, params };
  }
  return undefined;
}

/** A route table entry: the handler for one operation. */
export interface Route<Request> extends RouteEntry {
  readonly handler: (request: Request) => void | Promise<void>;
}
