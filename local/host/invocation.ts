import { randomUUID } from 'node:crypto';
import functions, { type HttpRequest as HttpRequestType, type InvocationContext } from '@azure/functions';
import type { Registration } from './registry.js';

// @azure/functions is CommonJS: Node's ESM loader offers its classes through the default export only.
const { HttpRequest, InvocationContext: InvocationContextClass } = functions;

/** Where the app's `context.log` / `context.warn` / ... calls go. */
export type HostLog = (level: string, functionName: string, ...args: unknown[]) => void;

export interface HttpInvocation {
  method: string;
  url: string;
  body?: string;
  headers?: Record<string, string>;
  params?: Record<string, string>;
}

/** The InvocationContext the worker builds for one call of a function, with its bindings as options. */
export function invocationContext(reg: Registration, log: HostLog): InvocationContext {
  return new InvocationContextClass({
    invocationId: randomUUID(),
    functionName: reg.name,
    options: bindingOptions(reg.metadata) as never,
    logHandler: (level, ...args) => log(level, reg.name, ...args),
  });
}

function bindingOptions(metadata: Registration['metadata']) {
  const bindings = Object.values(metadata.bindings);
  return {
    trigger: bindings.find((b) => b.direction === 'in' && /Trigger$/.test(b.type)),
    extraInputs: bindings.filter((b) => b.direction === 'in' && !/Trigger$/.test(b.type)),
    extraOutputs: bindings.filter((b) => b.direction === 'out' && b.name !== '$return'),
    return: metadata.bindings.$return,
  };
}

export function httpTriggerRequest(init: HttpInvocation): HttpRequestType {
  return new HttpRequest({
    method: init.method,
    url: init.url,
    headers: init.headers ?? {},
    params: init.params ?? {},
    ...(init.body !== undefined && init.method !== 'GET' && init.method !== 'HEAD'
      ? { body: { string: init.body } }
      : {}),
  });
}

export function timerTriggerPayload(now: Date, isPastDue: boolean) {
  const iso = now.toISOString();
  return { isPastDue, schedule: { adjustForDST: true }, scheduleStatus: { last: iso, next: iso, lastUpdated: iso } };
}
