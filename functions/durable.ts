import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import durableFunctions from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus, OrchestrationContext, Task } from 'durable-functions';

/**
 * Typed Durable contracts: each activity and orchestration is declared once (name, input, output) in
 * contracts.ts, and both its registration and every call go through the helpers here, so the compiler catches
 * a call whose input or result does not match the handler.
 */
export interface ActivityContract<Input, Output> {
  readonly kind: 'activity';
  readonly name: string;
  /** Types only: never set. */
  readonly types?: { input: Input; output: Output };
}

export interface OrchestrationContract<Input, Output> {
  readonly kind: 'orchestration';
  readonly name: string;
  readonly types?: { input: Input; output: Output };
}

export function activityContract<Input, Output>(name: string): ActivityContract<Input, Output> {
  return { kind: 'activity', name };
}

export function orchestrationContract<Input, Output>(name: string): OrchestrationContract<Input, Output> {
  return { kind: 'orchestration', name };
}

/** An orchestrator as a generator over Durable tasks; returns undefined when it continued as new. */
export type Orchestrator<Input, Output> = (
  context: OrchestrationContext,
  input: Input,
) => Generator<Task, Output | undefined, unknown>;

/**
 * Activities run at least once: three attempts with backoff before a failure reaches the orchestrator, so a
 * transient storage or Graph error does not fail the work that called it.
 */
const activityRetry = new df.RetryOptions(5_000, 3);
activityRetry.backoffCoefficient = 2;

export function registerActivity<Input, Output>(
  contract: ActivityContract<Input, Output>,
  handler: (input: Input, context: InvocationContext) => Promise<Output>,
  options: { durableClient?: boolean } = {},
): void {
  df.app.activity(contract.name, {
    handler: (input, context) => handler(input as Input, context),
    // `durableClientOf(context)` in the handler: an activity that asks about other orchestrations.
    ...(options.durableClient ? { extraInputs: [df.input.durableClient()] } : {}),
  });
}

/**
 * The Durable client of an activity registered with `durableClient: true`. Read from the package's own exports
 * object: under Node's ESM loader a CommonJS package's named exports are a snapshot taken at import, so a host
 * that provides its own client (the local host) would not be seen through `df.getClient`.
 */
export function durableClientOf(context: InvocationContext): DurableClient {
  return durableFunctions.getClient(context);
}

/** Whether an instance has ended for good; false while it runs, and when its status cannot be read. */
export async function instanceHasEnded(client: DurableClient, instanceId: string): Promise<boolean> {
  const status = await findInstance(client, instanceId);
  const ended: string[] = ['Completed', 'Failed', 'Terminated', 'Canceled'];
  return status !== undefined && ended.includes(status.runtimeStatus);
}

/**
 * Whether the instance exists, in any state. Unlike `findInstance`, a failure to ask is thrown, never taken
 * for "no such instance": a caller that acts on absence (a prune releasing a snapshot) must not guess. A host
 * that cannot tell (the CLI's in-process one, for instances it did not start) counts them as existing: they may
 * be running in the app's own task hub, so their snapshots and folders are kept.
 */
export async function instanceExists(client: DurableClient, instanceId: string): Promise<boolean> {
  try {
    await client.getStatus(instanceId);
    return true;
  } catch (error) {
    if ((error as Error).name === INSTANCE_NOT_TRACKED) return true;
    // Both the Durable extension and the local host answer an unknown instance with a 404, said in the message.
    if (/\b404\b/.test((error as Error).message)) return false;
    throw error;
  }
}

/** The name of the error a local host that knows only its own instances answers an unknown one with. */
export const INSTANCE_NOT_TRACKED = 'InstanceNotTracked';

export function registerOrchestration<Input, Output>(
  contract: OrchestrationContract<Input, Output>,
  orchestrator: Orchestrator<Input, Output>,
): void {
  df.app.orchestration(contract.name, function* (context: OrchestrationContext) {
    return yield* orchestrator(context, context.df.getInput() as Input);
  });
}

/** A scheduled activity (with the retry policy), to yield alone or in a window of tasks. */
export function activityTask<Input, Output>(
  context: OrchestrationContext,
  contract: ActivityContract<Input, Output>,
  input: Input,
): Task {
  return context.df.callActivityWithRetry(contract.name, activityRetry, input);
}

/** Calls an activity and returns its typed result: `const plan = yield* callActivity(context, planMailbox, …)`. */
export function* callActivity<Input, Output>(
  context: OrchestrationContext,
  contract: ActivityContract<Input, Output>,
  input: Input,
): Generator<Task, Output, unknown> {
  return (yield activityTask(context, contract, input)) as Output;
}

/** A sub-orchestration with a deterministic instance id, to yield in a window of tasks. */
export function subOrchestrationTask<Input, Output>(
  context: OrchestrationContext,
  contract: OrchestrationContract<Input, Output>,
  input: Input,
  instanceId: string,
): Task {
  return context.df.callSubOrchestrator(contract.name, input, instanceId);
}

/** Ends this episode and starts the orchestration again with `input` (history stays small). */
export function continueAsNew<Input>(
  context: OrchestrationContext,
  _contract: OrchestrationContract<Input, unknown>,
  input: Input,
): undefined {
  context.df.continueAsNew(input);
  return undefined;
}

export async function startOrchestration<Input>(
  client: DurableClient,
  contract: OrchestrationContract<Input, unknown>,
  instanceId: string,
  input: Input,
): Promise<void> {
  await client.startNew(contract.name, { instanceId, input });
}

/** The instance's status, or undefined when the client does not know it (never started, purged, another hub). */
export async function findInstance(
  client: DurableClient,
  instanceId: string,
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    const status = await client.getStatus(instanceId);
    return status?.runtimeStatus ? status : undefined;
  } catch {
    return undefined;
  }
}
