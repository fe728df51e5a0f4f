/**
 * The app's functions as the Functions worker would receive them: name, binding metadata and the real handler.
 * `registrations` is a process-wide singleton, filled by the `@azure/functions-core` stand-in that
 * ./sdkPatches.ts installs, whenever the app's code calls `app.*` or `df.app.*`.
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

/** Every function registered in this process, by lower-case name (function names are case-insensitive). */
export const registrations = new Map<string, Registration>();

export function registrationOf(metadata: Registration['metadata'], callback: Registration['callback']): Registration {
  const trigger = Object.values(metadata.bindings).find((b) => b.direction === 'in' && /Trigger$/.test(b.type));
  return { name: metadata.name, triggerType: trigger?.type, metadata, callback };
}

/** The function with this name, if it has this trigger type. */
export function findRegistration(
  from: Map<string, Registration>,
  name: string,
  triggerType: string,
): Registration | undefined {
  const reg = from.get(name.toLowerCase());
  return reg && reg.triggerType === triggerType ? reg : undefined;
}
