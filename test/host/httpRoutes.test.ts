import { describe, expect, it } from 'vitest';
import { matchRoute, routeOf } from '../../local/host/httpRoutes.js';
import type { Registration } from '../../local/host/registry.js';

function route(name: string, template: string, methods = ['GET']) {
  const binding = { type: 'httpTrigger', direction: 'in', name: 'request', route: template, methods };
  return routeOf({ name, metadata: { name, bindings: { request: binding } } } as unknown as Registration);
}

describe('the local host matches routes as the Functions host does', () => {
  const routes = [
    route('portal', 'portal/{*path}'),
    route('getRestore', 'restores/{id}'),
    route('preview', 'restores/preview', ['POST']),
  ];

  it('gives a catch-all parameter the rest of the path, slashes and all, or nothing', () => {
    expect(matchRoute(routes, 'GET', '/api/portal/assets/index-1a2b.js')).toMatchObject({
      route: { name: 'portal' },
      params: { path: 'assets/index-1a2b.js' },
    });
    expect(matchRoute(routes, 'GET', '/api/portal/')).toMatchObject({ route: { name: 'portal' } });
    expect(matchRoute(routes, 'GET', '/api/portal')).toMatchObject({ route: { name: 'portal' }, params: {} });
  });

  it('tells a literal segment from a parameter by method', () => {
    expect(matchRoute(routes, 'POST', '/api/restores/preview')).toMatchObject({ route: { name: 'preview' } });
    expect(matchRoute(routes, 'GET', '/api/restores/restore-1')).toMatchObject({ params: { id: 'restore-1' } });
    expect(matchRoute(routes, 'DELETE', '/api/restores/x')).toMatchObject({ status: 405 });
  });
});
