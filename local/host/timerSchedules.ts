import { Cron } from 'croner';
import { SETTINGS } from '../../shared/config.js';
import type { DurableHost } from './durableHost.js';
import type { HostLog } from './invocation.js';
import type { Registration } from './registry.js';

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

/** Fires every timer trigger on its NCRONTAB schedule (UTC, no overlapping runs); stop the returned jobs to end. */
export function scheduleTimerTriggers(
  registrations: Map<string, Registration>,
  host: DurableHost,
  log: HostLog | undefined,
): Cron[] {
  const defaults = Object.fromEntries(Object.entries(SETTINGS).map(([name, setting]) => [name, setting.default]));
  const jobs: Cron[] = [];
  for (const reg of registrations.values()) {
    if (reg.triggerType !== 'timerTrigger') continue;
    const trigger = Object.values(reg.metadata.bindings).find((b) => b.type === 'timerTrigger')!;
    const schedule = resolveSetting(String(trigger.schedule), process.env, defaults);
    jobs.push(
      new Cron(schedule, { timezone: 'UTC', protect: true }, () =>
        host.invokeTimer(reg.name).catch((error: unknown) => log?.('error', reg.name, error)),
      ),
    );
  }
  return jobs;
}
