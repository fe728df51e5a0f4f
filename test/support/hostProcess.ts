/**
 * One Function instance for tests that need several: the app on the local host in a process of its own (its own
 * Graph client, limiter and import sessions), configured by its environment. Prints `serving on <url>`; on
 * SIGTERM prints `shared limits <json>` (the Blob requests its restore targets' shared limits made) and exits.
 */
import { startLocalApp } from '../../local/host/localApp.js';
import { getServices } from '../../shared/services.js';

const app = await startLocalApp({ port: 0, clock: 'virtual' });
console.warn(`serving on ${app.baseUrl}`);
process.once('SIGTERM', () => {
  void (async () => {
    const { sharedLimits } = await getServices();
    console.warn(`shared limits ${JSON.stringify(sharedLimits.counts)}`);
    await app.close();
    process.exit(0);
  })();
});
