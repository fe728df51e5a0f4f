import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildInfra } from '../../scripts/bicep/build.js';
import { builtin, evaluateString, isExpression, UNKNOWN, type Scope, type Value } from './armExpressions.js';

/**
 * The compiled ARM templates (npm run infra:build, with the real Bicep CLI), and what they deploy: `deploy()`
 * walks a template the way ARM does for the parts tests care about (parameters and their defaults, variables,
 * conditions, copy loops, nested deployments with their outputs) and returns every resource with its evaluated
 * properties. Values only Azure knows (a resource's runtime properties) come out as strings marked UNKNOWN.
 */

type Json = { [key: string]: Value };

export interface DeployedResource {
  type: string;
  name: string;
  /** The module (nested deployment) path that declares it: `main/vault`. */
  module: string;
  /** An extension resource's scope (a role assignment's target). */
  scope?: string;
  kind?: string;
  location?: string;
  sku?: Json;
  identity?: Json;
  properties: Json;
}

export interface Deployment {
  name: string;
  parameters: Record<string, Value>;
  resources: DeployedResource[];
  modules: Map<string, Deployment>;
  outputs: Record<string, Value>;
}

let compiled: Promise<string> | undefined;

/** Compiles infra/ once per test run (reused while its inputs are unchanged); returns the ARM folder. */
export function compiledDir(): Promise<string> {
  compiled ??= buildInfra({ reuse: true }).then((b) => join(b.dir, 'arm'));
  return compiled;
}

export async function template(relative: string): Promise<Json> {
  return JSON.parse(readFileSync(join(await compiledDir(), relative), 'utf8')) as Json;
}

interface Context {
  template: Json;
  parameters: Record<string, Value>;
  variables: Map<string, Value>;
  copy: Record<string, number>;
  modules: Map<string, Deployment>;
  moduleSources: Map<string, () => Deployment>;
  path: string;
}

function scopeOf(ctx: Context): Scope {
  const scope: Scope = {
    call(name, args, raw, self) {
      switch (name) {
        case 'parameters': {
          const v = ctx.parameters[args[0] as string];
          if (v === undefined) throw new Error(`${ctx.path}: no parameter ${String(args[0])}`);
          return v;
        }
        case 'variables':
          return variable(ctx, args[0] as string);
        case 'copyindex': {
          const loop = typeof args[0] === 'string' ? args[0] : '';
          const offset = (typeof args[0] === 'number' ? args[0] : (args[1] as number | undefined)) ?? 0;
          const i = ctx.copy[loop];
          if (i === undefined) throw new Error(`${ctx.path}: copyIndex(${loop}) outside its loop`);
          return i + offset;
        }
        case 'reference':
          return reference(ctx, args[0] as string);
        case 'resourcegroup':
          return {
            id: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg',
            name: 'rg',
            location: `${UNKNOWN}location⟩`,
          };
        case 'deployment':
          return { name: ctx.path };
        case 'listkeys':
        case 'listaccountsas':
          throw new Error(`${ctx.path}: ${name}() reads account keys`);
        default:
          return builtin(name, args, raw, self);
      }
    },
  };
  return scope;
}

function evaluate(ctx: Context, value: Value): Value {
  if (isExpression(value)) return evaluateString(value as string, scopeOf(ctx));
  if (typeof value === 'string' && value.startsWith('[[')) return value.slice(1);
  if (Array.isArray(value)) return value.map((v) => evaluate(ctx, v));
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'copy' && Array.isArray(v) && v.every((c) => typeof c === 'object' && c !== null && 'input' in c)) {
      // Property loops: `copy: [{ name, count, input }]` becomes the property `name`.
      for (const loop of v as Json[]) {
        const count = evaluate(ctx, loop.count!) as number;
        out[loop.name as string] = Array.from({ length: count }, (_x, i) =>
          evaluate({ ...ctx, copy: { ...ctx.copy, [loop.name as string]: i } }, loop.input!),
        );
      }
      continue;
    }
    out[String(evaluate(ctx, key))] = evaluate(ctx, v);
  }
  return out;
}

function variable(ctx: Context, name: string): Value {
  if (ctx.variables.has(name)) return ctx.variables.get(name)!;
  const variables = (ctx.template.variables ?? {}) as Json;
  let value: Value;
  if (name in variables) value = evaluate(ctx, variables[name]!);
  else {
    const loop = ((variables.copy ?? []) as Json[]).find((c) => c.name === name);
    if (!loop) throw new Error(`${ctx.path}: no variable ${name}`);
    const count = evaluate(ctx, loop.count!) as number;
    value = Array.from({ length: count }, (_x, i) =>
      evaluate({ ...ctx, copy: { ...ctx.copy, [name]: i } }, loop.input!),
    );
  }
  ctx.variables.set(name, value);
  return value;
}

function reference(ctx: Context, target: string): Value {
  const byId = /\/providers\/Microsoft\.Resources\/deployments\/([^/]+)$/.exec(target)?.[1];
  const name = byId ?? (ctx.moduleSources.has(target) ? target : undefined);
  if (name && ctx.moduleSources.has(name)) {
    const module = ctx.modules.get(name) ?? ctx.moduleSources.get(name)!();
    return { outputs: Object.fromEntries(Object.entries(module.outputs).map(([k, v]) => [k, { value: v }])) };
  }
  return `${UNKNOWN}reference(${target})⟩`;
}

function resourceEntries(template: Json): Array<[string, Json]> {
  const resources = template.resources as Json[] | Json;
  return Array.isArray(resources)
    ? resources.map((r, i) => [String(i), r as Json])
    : Object.entries(resources as Record<string, Json>);
}

/** Deploys a compiled template with the given parameter values (the rest take their defaults). */
export function deploy(template: Json, given: Record<string, Value> = {}, path = 'main'): Deployment {
  const declared = (template.parameters ?? {}) as Record<string, Json>;
  for (const name of Object.keys(given))
    if (!(name in declared)) throw new Error(`${path}: parameter ${name} is not declared`);
  const ctx: Context = {
    template,
    parameters: {},
    variables: new Map(),
    copy: {},
    modules: new Map(),
    moduleSources: new Map(),
    path,
  };
  for (const [name, p] of Object.entries(declared)) {
    const value = name in given ? given[name]! : 'defaultValue' in p ? evaluate(ctx, p.defaultValue!) : undefined;
    if (value === undefined) {
      if (p.nullable === true) ctx.parameters[name] = null;
      else throw new Error(`${path}: parameter ${name} has no value`);
      continue;
    }
    const allowed = p.allowedValues as Value[] | undefined;
    if (allowed && !allowed.some((a) => JSON.stringify(a) === JSON.stringify(value)))
      throw new Error(`${path}: ${name}=${JSON.stringify(value)} is not among its allowed values`);
    ctx.parameters[name] = value;
  }

  const resources: DeployedResource[] = [];
  const instances: Array<{ resource: Json; copy: Record<string, number> }> = [];
  for (const [symbolic, resource] of resourceEntries(template)) {
    if (resource.existing === true) continue;
    const loop = resource.copy as Json | undefined;
    const copies = loop ? (evaluate(ctx, loop.count!) as number) : 1;
    for (let i = 0; i < copies; i++) {
      const copy: Record<string, number> = loop ? { [loop.name as string]: i, '': i } : {};
      const condition = 'condition' in resource ? evaluate({ ...ctx, copy }, resource.condition!) : true;
      if (condition !== true) continue;
      if (resource.type === 'Microsoft.Resources/deployments') {
        const name = evaluate({ ...ctx, copy }, resource.name!) as string;
        const build = () => {
          const props = resource.properties as Json;
          const params = Object.fromEntries(
            // An entry is `{ value }`, or an expression that yields one.
            Object.entries((props.parameters ?? {}) as Record<string, Value>).map(([k, v]) => [
              k,
              (evaluate({ ...ctx, copy }, v) as Json).value!,
            ]),
          );
          const module = deploy(props.template as Json, params, `${path}/${name}`);
          ctx.modules.set(name, module);
          return module;
        };
        ctx.moduleSources.set(name, build);
        ctx.moduleSources.set(symbolic, build);
      } else instances.push({ resource, copy });
    }
  }
  for (const [name, build] of ctx.moduleSources) if (!ctx.modules.has(name) && !/^\d+$/.test(name)) build();
  for (const { resource, copy } of instances) {
    const c = { ...ctx, copy };
    const e = (key: string) => (key in resource ? evaluate(c, resource[key]!) : undefined);
    resources.push({
      type: resource.type as string,
      name: String(e('name') ?? ''),
      module: path,
      ...(e('scope') !== undefined ? { scope: e('scope') as string } : {}),
      ...(e('kind') !== undefined ? { kind: e('kind') as string } : {}),
      ...(e('location') !== undefined ? { location: e('location') as string } : {}),
      ...(e('sku') !== undefined ? { sku: e('sku') as Json } : {}),
      ...(e('identity') !== undefined ? { identity: e('identity') as Json } : {}),
      properties: (e('properties') ?? {}) as Json,
    });
  }
  const outputs: Record<string, Value> = {};
  for (const [name, o] of Object.entries((template.outputs ?? {}) as Record<string, Json>)) {
    if ('condition' in o && evaluate(ctx, o.condition!) !== true) continue;
    outputs[name] = evaluate(ctx, o.value!);
  }
  return { name: path, parameters: ctx.parameters, resources, modules: ctx.modules, outputs };
}

/** Every resource of a deployment and of its modules, recursively. */
export function allResources(deployment: Deployment): DeployedResource[] {
  return [...deployment.resources, ...[...deployment.modules.values()].flatMap(allResources)];
}

/** Every resource of a type, in any module. */
export function of(deployment: Deployment, type: string): DeployedResource[] {
  return allResources(deployment).filter((r) => r.type === type);
}

/** The one resource of a type that a module (by its name) declares. */
export function one(deployment: Deployment, type: string, module: string): DeployedResource {
  const found = of(deployment, type).filter((r) => r.module.endsWith(`/${module}`));
  if (found.length !== 1) throw new Error(`${found.length} ${type} in ${module}, not one`);
  return found[0]!;
}

/** main.bicep deployed as azd would with the environment's defaults (main.parameters.json) and these overrides. */
export async function deployMain(overrides: Record<string, Value> = {}): Promise<Deployment> {
  const main = await template('main.json');
  return deploy(main, {
    environmentName: 'prod',
    location: 'westeurope',
    principalId: 'deployer-object-id',
    ...overrides,
  });
}
