import type { InvocationContext } from '@azure/functions';
import type { DurableClient } from 'durable-functions';
import { Cron } from 'croner';
import { compactTime } from '../shared/vault/layout.js';
import { findInstance, startOrchestration, type OrchestrationContract } from './durable.js';

/** The scheduled occurrence a timer fire belongs to: the latest schedule time not after now. */
export function scheduledOccurrence(schedule: string, now: Date): Date {
  const [previous] = new Cron(schedule, { paused: true, timezone: 'UTC' }).previousRuns(
    1,
    new Date(now.getTime() + 1000),
  );
  return previous ?? now;
}

/**
 * Starts the run of a timer's scheduled occurrence once. The instance id comes from the scheduled time, so a
 * second fire for the same occurrence (a host restart, two instances) finds the run already there and starts
 * nothing; a run that failed or was terminated is started again.
 */
export async function startScheduledRun<Input>(
  client: DurableClient,
  context: InvocationContext,
  run: { contract: OrchestrationContract<Input, unknown>; idPrefix: string; schedule: string },
  inputFor: (instanceId: string, occurrence: Date) => Input,
): Promise<void> {
  const occurrence = scheduledOccurrence(run.schedule, new Date());
  const instanceId = `${run.idPrefix}-${compactTime(occurrence)}`;
  const existing = await findInstance(client, instanceId);
  if (existing && !['Failed', 'Terminated'].includes(existing.runtimeStatus)) {
    context.log(`${instanceId} already ${existing.runtimeStatus}; not starting it again`);
    return;
  }
  await startOrchestration(client, run.contract, instanceId, inputFor(instanceId, occurrence));
  context.log(`Started scheduled ${instanceId}`);
}
