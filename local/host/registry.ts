import { createRequire } from 'node:module';

/**
 * Stands in for `@azure/functions-core`, the module only the Functions worker provides. Without it
 * `@azure/functions` runs in "test mode" and drops every registration; with it, each `app.*` and `df.app.*`
 * call lands here with its metadata and the real handler, exactly as the worker would receive them.
 * Must be installed before the app's code first registers a function.
 */

export interface BindingMetadata {
  type: string;
  direction: 'in' | 'out' | 'inout';
  name?: string;
  route?: string;
  methods?: string[];
  schedule?: string;
  authLevel?: string;
  [key: string]: unknown;
}

export interface Registration {
  name: string;
  triggerType: string | undefined;
  metadata: { name: string; bindings: Record<string, BindingMetadata> };
  // The worker calls handlers with (trigger payload, InvocationContext).
  callback: (...args: unknown[]) => Promise<unknown>;
}

export const registrations = new Map<string, Registration>();

let installed = false;

export function installFunctionsCore(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  // Module._load is CommonJS's loader entry; @azure/functions is CommonJS and loads the core module through it.
  const Module = require('node:module') as { _load: (request: string, ...rest: unknown[]) => unknown };
  let programmingModel: unknown;
  const core = {
    version: '0.0.0-local',
    hostVersion: '0.0.0-local',
    registerFunction(metadata: Registration['metadata'], callback: Registration['callback']) {
      const trigger = Object.values(metadata.bindings).find((b) => b.direction === 'in' && /Trigger$/.test(b.type));
      registrations.set(metadata.name.toLowerCase(), {
        name: metadata.name,
        triggerType: trigger?.type,
        metadata,
        callback,
      });
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
  const load = Module._load;
  Module._load = function (request: string, ...rest: unknown[]) {
    if (request === '@azure/functions-core') return core;
    return load.call(this, request, ...rest);
  };
}
