import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { DurableHost, type DurableHostOptions } from './durableHost.js';
import { LOCAL_OPERATOR, type LocalSignIn } from './easyAuth.js';
import { routeOf } from './httpRoutes.js';
import { createHttpTriggerServer, isLoopbackHostname } from './httpServer.js';
import { registrations, type Registration } from './registry.js';
import { installFunctionsCore } from './sdkPatches.js';
import { scheduleTimerTriggers } from './timerSchedules.js';

export { resolveSetting } from './timerSchedules.js';

export interface LocalAppOptions {
  /** Default 7071, as `func start`; 0 picks a free port. */
  port?: number;
  host?: string;
  clock?: DurableHostOptions['clock'];
  maxConcurrentActivities?: number;
  /** Fire timer triggers on their schedules (off in tests, which invoke them directly). */
  scheduleTimers?: boolean;
  log?: DurableHostOptions['log'];
  /** Keeps instances and histories there, and resumes the unfinished ones before serving (see ./taskHub.ts). */
  taskHub?: DurableHostOptions['taskHub'];
  /**
   * Who callers are (the host plays App Service Authentication): by default the local operator, with every role,
   * for requests without a bearer token; `issuer` makes it accept that issuer's tokens for the API.
   */
  signIn?: LocalSignIn;
  /** See DurableHostOptions.releaseFinishedChildren (benches that measure the worker's memory). */
  releaseFinishedChildren?: boolean;
  /** See DurableHostOptions.knowsOnlyItsOwnInstances (the CLI run in-process). */
  knowsOnlyItsOwnInstances?: boolean;
}

export interface LocalApp {
  host: DurableHost;
  baseUrl: string;
  registrations: Map<string, Registration>;
  /** What recover() found in the task hub: instances read, and how many of them were resumed. */
  recovered: { instances: number; resumed: number };
  close(): Promise<void>;
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
    ...(options.taskHub ? { taskHub: options.taskHub } : {}),
    ...(options.releaseFinishedChildren ? { releaseFinishedChildren: true } : {}),
    ...(options.knowsOnlyItsOwnInstances ? { knowsOnlyItsOwnInstances: true } : {}),
  });
  host.installDurableClient();
  const recovered = await host.recover();

  const routes = [...registrations.values()].filter((r) => r.triggerType === 'httpTrigger').map(routeOf);
  // What App Service sets when its Authentication is on: the app then trusts the principal headers this host sets.
  const authBefore = process.env.WEBSITE_AUTH_ENABLED;
  process.env.WEBSITE_AUTH_ENABLED = 'True';
  const hostname = options.host ?? '127.0.0.1';
  const server = createHttpTriggerServer(host, routes, options.signIn ?? { operator: LOCAL_OPERATOR }, {
    // Bound to another interface on purpose (a container), the app is reached by other names.
    loopbackOnly: isLoopbackHostname(hostname),
  });
  const baseUrl = await listen(server, options.port ?? 7071, hostname);
  const jobs = options.scheduleTimers ? scheduleTimerTriggers(registrations, host, options.log) : [];

  return {
    host,
    baseUrl,
    registrations,
    recovered,
    close: async () => {
      jobs.forEach((job) => job.stop());
      host.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (authBefore === undefined) delete process.env.WEBSITE_AUTH_ENABLED;
      else process.env.WEBSITE_AUTH_ENABLED = authBefore;
    },
  };
}

async function listen(server: Server, port: number, hostname: string): Promise<string> {
  server.listen(port, hostname);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return `http://${address.address}:${address.port}`;
}
