import { createRequire } from 'node:module';
import type { OpenTask } from './protocol.js';
import { registrationOf, registrations, type Registration } from './registry.js';

/**
 * Every place the local host reaches into SDK internals, so that running without the Functions host hides
 * nothing. Checked against @azure/functions 4.16.5 and durable-functions 3.5.0; a newer SDK may move these.
 *
 * 1. installFunctionsCore: CommonJS's `Module._load` answers `require('@azure/functions-core')`, the module only
 *    the Functions worker provides, with a stand-in. Without it `@azure/functions` runs in "test mode" and drops
 *    every registration; with it each `app.*` / `df.app.*` call lands in ./registry.ts's `registrations`.
 *    Install it before the app's code first registers a function.
 * 2. installDurableClient: replaces the `getClient` export of `durable-functions/lib/src/durableClient/getClient`,
 *    which both `df.getClient(context)` and the `df.app.client.*` wrappers call, so they receive the host's
 *    in-memory client instead of one that talks HTTP to the Durable extension.
 * 3. openTasksOf: reads `context.df.taskOrchestratorExecutor.openTasks` after a replay. The out-of-process
 *    protocol only returns the actions; the open tasks tell which are new and which retry step a task is at.
 *
 * Process state: 1 and 2 change module-level state for the whole process and are never undone; 1 is installed
 * once (the `functionsCoreInstalled` flag), and with 2 the last host to install its client serves every caller.
 */

const require = createRequire(import.meta.url);

let functionsCoreInstalled = false;

export function installFunctionsCore(): void {
  if (functionsCoreInstalled) return;
  functionsCoreInstalled = true;
  // Module._load is CommonJS's loader entry; @azure/functions is CommonJS and loads the core module through it.
  const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
  const core = functionsCoreStandIn();
  const load = Module._load;
  Module._load = function (request: string, ...rest: unknown[]) {
    if (request === '@azure/functions-core') return core;
    return load.call(this, request, ...rest);
  };
}

function functionsCoreStandIn() {
  let programmingModel: unknown;
  return {
    version: '0.0.0-local',
    hostVersion: '0.0.0-local',
    registerFunction(metadata: Registration['metadata'], callback: Registration['callback']) {
      registrations.set(metadata.name.toLowerCase(), registrationOf(metadata, callback));
      return { dispose: () => registrations.delete(metadata.name.toLowerCase()) };
    },
    setProgrammingModel(model: unknown) {
      programmingModel = model;
    },
    getProgrammingModel() {
      return programmingModel;
    },
    registerHook() {
      return { dispose() {} };
    },
    log() {},
  };
}

export function installDurableClient(client: unknown): void {
  const module = require('durable-functions/lib/src/durableClient/getClient') as { getClient: unknown };
  module.getClient = () => client;
}

/** The orchestrator's open tasks by task id, from the context the SDK built for the replay that just ran. */
export function openTasksOf(context: unknown): Record<string, OpenTask> {
  const executor = (context as { df?: { taskOrchestratorExecutor?: { openTasks?: Record<string, OpenTask> } } }).df
    ?.taskOrchestratorExecutor;
  if (!executor?.openTasks)
    throw new Error('durable-functions internals changed: no taskOrchestratorExecutor.openTasks');
  return executor.openTasks;
}
