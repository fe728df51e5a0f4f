import type { Registration } from './registry.js';

export interface HttpRoute {
  name: string;
  methods: string[];
  pattern: RegExp;
  params: string[];
}

export type RouteMatch =
  { route: HttpRoute; params: Record<string, string> } | { route?: undefined; status: 404 | 405; title: string };

/**
 * The route an HTTP trigger has in Azure: /api/<route or function name>, with `{name}` and `{name?}` parameters
 * and a last catch-all `{*name}` (the rest of the path, slashes and all, possibly empty).
 */
export function routeOf(reg: Registration): HttpRoute {
  const trigger = Object.values(reg.metadata.bindings).find((b) => b.type === 'httpTrigger')!;
  const template = (trigger.route ?? reg.name).replace(/^\/+/, '');
  const params: string[] = [];
  const pattern = template
    .split('/')
    .map((segment) => {
      const match = /^\{(\*)?(\w+)(?::[^}?]+)?(\?)?\}$/.exec(segment);
      if (!match) return `/${segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&')}`;
      params.push(match[2]!);
      if (match[1]) return '(?:/(.*))?';
      return match[3] ? '(?:/([^/]+))?' : '/([^/]+)';
    })
    .join('');
  return {
    name: reg.name,
    methods: (trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
    pattern: new RegExp(`^/api${pattern}/?$`, 'i'),
    params,
  };
}

/** The route for a request with its decoded parameters, or 404 (no such path) / 405 (not with this method). */
export function matchRoute(routes: HttpRoute[], method: string, pathname: string): RouteMatch {
  const matches = routes.filter((r) => r.pattern.test(pathname));
  const route = matches.find((r) => r.methods.includes(method));
  if (!route)
    return matches.length ? { status: 405, title: 'Method not allowed' } : { status: 404, title: 'Not found' };
  const values = route.pattern.exec(pathname)!.slice(1);
  const params = Object.fromEntries(
    route.params.flatMap((name, i) => (values[i] === undefined ? [] : [[name, decodeURIComponent(values[i]!)]])),
  );
  return { route, params };
}
