import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Cron } from 'croner';
import { SETTINGS } from '../../shared/config.js';
import { DurableHost, type DurableHostOptions } from './durableHost.js';
import { registrations, type Registration } from './registry.js';
import { installFunctionsCore } from './sdkPatches.js';

export interface LocalAppOptions {
  /** Default 7071, as `func start`; 0 picks a free port. */
  port?: number;
  host?: string;
  clock?: DurableHostOptions['clock'];
  maxConcurrentActivities?: number;
  /** Fire timer triggers on their schedules (off in tests, which invoke them directly). */
  scheduleTimers?: boolean;
  log?: DurableHostOptions['log'];
}

export interface LocalApp {
  host: DurableHost;
  baseUrl: string;
  registrations: Map<string, Registration>;
  close(): Promise<void>;
}

interface HttpRoute {
  name: string;
  methods: string[];
  pattern: RegExp;
  params: string[];
}

/** `%NAME%` binding expressions resolve from app settings, as in the Functions host. */
export function resolveSetting(
  value: string,
  env: NodeJS.ProcessEnv = process.env,
  defaults: Record<string, string> = {},
): string {
  return value.replace(/%([A-Za-z0-9_]+)%/g, (_, name: string) => {
    const resolved = env[name] || defaults[name];
    if (!resolved) throw new Error(`The app setting '${name}' used in a binding is not set`);
    return resolved;
  });
}

function routeOf(reg: Registration): HttpRoute {
  const trigger = Object.values(reg.metadata.bindings).find((b) => b.type === 'httpTrigger')!;
  const template = (trigger.route ?? reg.name).replace(/^\/+/, '');
  const params: string[] = [];
  const pattern = template
    .split('/')
    .map((segment) => {
      const match = /^\{(\w+)(?::[^}?]+)?(\?)?\}$/.exec(segment);
      if (!match) return `/${segment.replace(/[.*+?^$()|[\]\\]/g, '\\$&')}`;
      params.push(match[1]!);
      return match[2] ? '(?:/([^/]+))?' : '/([^/]+)';
    })
    .join('');
  return {
    name: reg.name,
    methods: (trigger.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
    pattern: new RegExp(`^/api${pattern}/?$`, 'i'),
    params,
  };
}

/**
 * The app on one machine: loads functions/index.js (the same entry `func start` loads) with the registrations
 * captured, drives orchestrations with the in-process Durable host, serves HTTP triggers on localhost with the
 * routes they have in Azure, and fires timer triggers on their NCRONTAB schedules.
 */
export async function startLocalApp(options: LocalAppOptions = {}): Promise<LocalApp> {
  installFunctionsCore();
  await import('../../functions/index.js');
  const host = new DurableHost({
    registrations,
    clock: options.clock ?? 'real',
    maxConcurrentActivities: options.maxConcurrentActivities ?? 8,
    strict: true,
    ...(options.log ? { log: options.log } : {}),
  });
  host.installDurableClient();

  const routes = [...registrations.values()].filter((r) => r.triggerType === 'httpTrigger').map(routeOf);
  const server: Server = createServer((req, res) => void serve(req, res));
  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`);
      const method = (req.method ?? 'GET').toUpperCase();
      const matches = routes.filter((r) => r.pattern.test(url.pathname));
      const route = matches.find((r) => r.methods.includes(method));
      if (!route) {
        res.writeHead(matches.length ? 405 : 404, { 'Content-Type': 'application/json' }).end(
          JSON.stringify({
            error: { status: matches.length ? 405 : 404, title: matches.length ? 'Method not allowed' : 'Not found' },
          }),
        );
        return;
      }
      const values = route.pattern.exec(url.pathname)!.slice(1);
      const params = Object.fromEntries(
        route.params.flatMap((name, i) => (values[i] === undefined ? [] : [[name, decodeURIComponent(values[i]!)]])),
      );
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(
        Object.entries(req.headers).flatMap(([k, v]) =>
          v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]],
        ),
      );
      const { HttpResponse } = (await import('@azure/functions')).default;
      const result = await host.invokeHttp(route.name, {
        method,
        url: url.toString(),
        headers,
        params,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? { status: 204 });
      const body = Buffer.from(await response.arrayBuffer());
      const outHeaders: Record<string, string> = {};
      response.headers.forEach((value, key) => (outHeaders[key] = value));
      res.writeHead(response.status, outHeaders).end(body);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({ error: { status: 500, title: 'The function failed', errors: [(error as Error).message] } }),
      );
    }
  }
  server.listen(options.port ?? 7071, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const baseUrl = `http://${address.address}:${address.port}`;

  const jobs: Cron[] = [];
  if (options.scheduleTimers) {
    for (const reg of registrations.values()) {
      if (reg.triggerType !== 'timerTrigger') continue;
      const trigger = Object.values(reg.metadata.bindings).find((b) => b.type === 'timerTrigger')!;
      const schedule = resolveSetting(
        String(trigger.schedule),
        process.env,
        Object.fromEntries(Object.entries(SETTINGS).map(([name, setting]) => [name, setting.default])),
      );
      jobs.push(
        new Cron(schedule, { timezone: 'UTC', protect: true }, () =>
          host.invokeTimer(reg.name).catch((error: unknown) => options.log?.('error', reg.name, error)),
        ),
      );
    }
  }

  return {
    host,
    baseUrl,
    registrations,
    close: async () => {
      jobs.forEach((job) => job.stop());
      host.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
