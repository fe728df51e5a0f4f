import { createHash } from 'node:crypto';

/**
 * ARM template expressions (`"[if(parameters('x'), 'a', 'b')]"`), parsed and evaluated: the compiled templates
 * say what is deployed in this language, so tests evaluate it rather than match its text. Values ARM only knows at
 * deployment time (a resource's reference(), a deployer's id) come out as UNKNOWN-marked strings.
 */

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export const UNKNOWN = '⟨';

type Node =
  | { kind: 'literal'; value: Value }
  | { kind: 'call'; name: string; args: Node[] }
  | { kind: 'member'; target: Node; property: Node };

export interface Scope {
  call(name: string, args: Value[], raw: Node[], scope: Scope): Value;
  lambda?: Record<string, Value>;
}

function parse(text: string): Node {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const expr = (): Node => {
    ws();
    let node: Node;
    const c = text[i];
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`Unterminated string in ${text}`);
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += text[i++];
      }
      node = { kind: 'literal', value: s };
    } else if (/[-\d]/.test(c ?? '')) {
      const m = /^-?\d+(\.\d+)?/.exec(text.slice(i))!;
      i += m[0].length;
      node = { kind: 'literal', value: Number(m[0]) };
    } else {
      const m = /^[A-Za-z_][\w.]*/.exec(text.slice(i));
      if (!m) throw new Error(`Unexpected '${c}' at ${i} in ${text}`);
      i += m[0].length;
      ws();
      if (text[i] !== '(') {
        if (m[0] === 'true' || m[0] === 'false') node = { kind: 'literal', value: m[0] === 'true' };
        else throw new Error(`Expected a call after ${m[0]} in ${text}`);
      } else {
        i++;
        const args: Node[] = [];
        ws();
        if (text[i] === ')') i++;
        else
          for (;;) {
            args.push(expr());
            ws();
            if (text[i] === ',') i++;
            else if (text[i] === ')') {
              i++;
              break;
            } else throw new Error(`Expected , or ) at ${i} in ${text}`);
          }
        node = { kind: 'call', name: m[0].toLowerCase(), args };
      }
    }
    for (;;) {
      ws();
      if (text[i] === '.') {
        i++;
        const m = /^[A-Za-z_$][\w$]*/.exec(text.slice(i))!;
        i += m[0].length;
        node = { kind: 'member', target: node, property: { kind: 'literal', value: m[0] } };
      } else if (text[i] === '[') {
        i++;
        const property = expr();
        ws();
        if (text[i++] !== ']') throw new Error(`Expected ] in ${text}`);
        node = { kind: 'member', target: node, property };
      } else return node;
    }
  };
  const node = expr();
  ws();
  if (i !== text.length) throw new Error(`Trailing text at ${i} in ${text}`);
  return node;
}

const cache = new Map<string, Node>();

export function isExpression(value: unknown): boolean {
  return typeof value === 'string' && value.startsWith('[') && !value.startsWith('[[') && value.endsWith(']');
}

export function isUnknown(value: Value): boolean {
  return typeof value === 'string' && value.includes(UNKNOWN);
}

export function evaluateString(text: string, scope: Scope): Value {
  let node = cache.get(text);
  if (!node) cache.set(text, (node = parse(text.slice(1, -1))));
  return evaluateNode(node, scope);
}

function evaluateNode(node: Node, scope: Scope): Value {
  if (node.kind === 'literal') return node.value;
  if (node.kind === 'member') {
    const target = evaluateNode(node.target, scope);
    const key = evaluateNode(node.property, scope);
    if (typeof target === 'string' && isUnknown(target)) return `${target}.${String(key)}`;
    if (target === null || typeof target !== 'object')
      throw new Error(`Cannot read ${String(key)} of ${JSON.stringify(target)}`);
    const value = Array.isArray(target) ? target[Number(key)] : target[String(key)];
    if (value === undefined) throw new Error(`No property ${String(key)} in ${JSON.stringify(target).slice(0, 200)}`);
    return value;
  }
  // Lazily evaluated arguments: if() and the lambdas must not evaluate what they do not take.
  if (node.name === 'if') {
    const condition = evaluateNode(node.args[0]!, scope);
    if (typeof condition !== 'boolean') throw new Error(`if() on ${JSON.stringify(condition)}`);
    return evaluateNode(node.args[condition ? 1 : 2]!, scope);
  }
  if (node.name === 'lambda') return { $lambda: node.args.length } as never; // resolved by the caller below
  const args = node.args.map((a) =>
    a.kind === 'call' && a.name === 'lambda' ? (null as Value) : evaluateNode(a, scope),
  );
  return scope.call(node.name, args, node.args, scope);
}

/** Applies a lambda node (`lambda('x', body)`) to arguments. */
export function applyLambda(node: Node, values: Value[], scope: Scope): Value {
  if (node.kind !== 'call' || node.name !== 'lambda') throw new Error('Expected a lambda');
  const names = node.args.slice(0, -1).map((a) => evaluateNode(a, scope) as string);
  const lambda = { ...scope.lambda };
  names.forEach((n, i) => (lambda[n] = values[i] ?? null));
  return evaluateNode(node.args[node.args.length - 1]!, { ...scope, lambda });
}

const fakeHash = (parts: Value[], length: number) =>
  createHash('sha256')
    .update(JSON.stringify(parts))
    .digest('hex')
    .replace(/[^a-z0-9]/g, '')
    .slice(0, length);

function fakeGuid(parts: Value[]): string {
  const h = createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const str = (v: Value) => (typeof v === 'string' ? v : JSON.stringify(v));

/** `/providers/Microsoft.X/a/name1/b/name2` from a type `Microsoft.X/a/b` and its names. */
function providerPath(type: string, names: Value[]): string {
  const [namespace, ...segments] = type.split('/');
  return `/providers/${namespace}/${segments.map((s, i) => `${s}/${str(names[i] ?? '')}`).join('/')}`;
}

/** The functions that do not depend on where they are evaluated. */
export function builtin(name: string, a: Value[], raw: Node[], scope: Scope): Value {
  const anyUnknown = a.some((v) => typeof v === 'string' && isUnknown(v));
  // A runtime value (a subnet's id, a resource's endpoint) is taken to exist: not empty.
  if (name === 'empty' && typeof a[0] === 'string' && isUnknown(a[0])) return false;
  // A comparison with a value only Azure knows is itself unknown (and if() on it fails, loudly).
  if (anyUnknown && ['not', 'and', 'or', 'equals', 'greater', 'less', 'greaterorequals', 'lessorequals'].includes(name))
    return `${UNKNOWN}${name}(…)⟩`;
  switch (name) {
    case 'not':
      return !a[0];
    case 'and':
      return a.every(Boolean);
    case 'or':
      return a.some(Boolean);
    case 'equals':
      return JSON.stringify(a[0]) === JSON.stringify(a[1]);
    case 'greater':
      return (a[0] as number) > (a[1] as number);
    case 'greaterorequals':
      return (a[0] as number) >= (a[1] as number);
    case 'less':
      return (a[0] as number) < (a[1] as number);
    case 'lessorequals':
      return (a[0] as number) <= (a[1] as number);
    case 'empty':
      return (
        a[0] === null ||
        a[0] === '' ||
        (Array.isArray(a[0]) ? a[0].length === 0 : typeof a[0] === 'object' && Object.keys(a[0]).length === 0)
      );
    case 'length':
      return Array.isArray(a[0])
        ? a[0].length
        : typeof a[0] === 'string'
          ? a[0].length
          : Object.keys(a[0] as object).length;
    case 'null':
      return null;
    case 'true':
      return true;
    case 'false':
      return false;
    case 'string':
      return str(a[0]!);
    case 'int':
      return Number(a[0]);
    case 'bool':
      return a[0] === true || a[0] === 'true';
    case 'json':
      return JSON.parse(a[0] as string) as Value;
    case 'tolower':
      return (a[0] as string).toLowerCase();
    case 'toupper':
      return (a[0] as string).toUpperCase();
    case 'trim':
      return (a[0] as string).trim();
    case 'take':
      return Array.isArray(a[0]) ? a[0].slice(0, a[1] as number) : (a[0] as string).slice(0, a[1] as number);
    case 'skip':
      return Array.isArray(a[0]) ? a[0].slice(a[1] as number) : (a[0] as string).slice(a[1] as number);
    case 'split':
      return (a[0] as string).split(a[1] as string);
    case 'replace':
      return (a[0] as string).split(a[1] as string).join(a[2] as string);
    case 'startswith':
      return (a[0] as string).startsWith(a[1] as string);
    case 'endswith':
      return (a[0] as string).endsWith(a[1] as string);
    case 'contains':
      return Array.isArray(a[0])
        ? a[0].some((x) => JSON.stringify(x) === JSON.stringify(a[1]))
        : typeof a[0] === 'string'
          ? a[0].includes(a[1] as string)
          : Object.hasOwn(a[0] as object, a[1] as string);
    case 'format':
      return (a[0] as string).replace(/\{(\d+)(:[^}]*)?\}/g, (_m, n: string) => str(a[Number(n) + 1]!));
    case 'concat':
      return a.every(Array.isArray) ? a.flat() : a.map(str).join('');
    case 'join':
      return (a[0] as Value[]).map(str).join(a[1] as string);
    case 'union': {
      if (a.every(Array.isArray))
        return [...new Set(a.flat().map((v) => JSON.stringify(v)))].map((v) => JSON.parse(v) as Value);
      return Object.assign({}, ...a.filter((v) => v !== null)) as Value;
    }
    case 'createobject': {
      const o: Record<string, Value> = {};
      for (let i = 0; i < a.length; i += 2) o[a[i] as string] = a[i + 1]!;
      return o;
    }
    case 'createarray':
      return a;
    case 'coalesce':
      return a.find((v) => v !== null) ?? null;
    case 'trygetvalue':
    case 'tryget': {
      const target = a[0];
      if (target === null || target === undefined) return null;
      if (typeof target === 'string' && isUnknown(target)) return `${target}.${str(a[1]!)}`;
      const v = Array.isArray(target) ? target[a[1] as number] : (target as Record<string, Value>)[a[1] as string];
      return v === undefined ? null : v;
    }
    case 'first':
      return Array.isArray(a[0]) ? (a[0][0] ?? null) : (a[0] as string)[0]!;
    case 'last':
      return Array.isArray(a[0]) ? (a[0][a[0].length - 1] ?? null) : (a[0] as string).slice(-1);
    case 'max':
      return Math.max(...(a.flat() as number[]));
    case 'min':
      return Math.min(...(a.flat() as number[]));
    case 'add':
      return (a[0] as number) + (a[1] as number);
    case 'sub':
      return (a[0] as number) - (a[1] as number);
    case 'mul':
      return (a[0] as number) * (a[1] as number);
    case 'div':
      return Math.trunc((a[0] as number) / (a[1] as number));
    case 'range':
      return Array.from({ length: a[1] as number }, (_v, i) => (a[0] as number) + i);
    case 'items':
      return Object.entries(a[0] as object).map(([key, value]) => ({ key, value: value as Value }));
    case 'filter':
      if (typeof a[0] === 'string' && isUnknown(a[0])) return `${a[0]}.filter(…)`;
      return (a[0] as Value[]).filter((v, i) => applyLambda(raw[1]!, [v, i], scope) === true);
    case 'map':
      if (typeof a[0] === 'string' && isUnknown(a[0])) return `${a[0]}.map(…)`;
      return (a[0] as Value[]).map((v, i) => applyLambda(raw[1]!, [v, i], scope));
    case 'lambdavariables': {
      const v = scope.lambda?.[a[0] as string];
      if (v === undefined) throw new Error(`No lambda variable ${String(a[0])}`);
      return v;
    }
    case 'uniquestring':
      return anyUnknown ? `${UNKNOWN}uniqueString⟩` : fakeHash(a, 13);
    case 'guid':
      return fakeGuid(a);
    case 'tenant':
      return { tenantId: `${UNKNOWN}tenantId⟩` };
    case 'subscription':
      return {
        id: '/subscriptions/00000000-0000-0000-0000-000000000000',
        subscriptionId: '00000000-0000-0000-0000-000000000000',
      };
    case 'environment':
      return {
        name: 'AzureCloud',
        authentication: { loginEndpoint: 'https://login.microsoftonline.com/' },
        suffixes: { storage: 'core.windows.net' },
      };
    case 'deployer':
      return { objectId: `${UNKNOWN}deployer⟩`, tenantId: `${UNKNOWN}tenantId⟩` };
    case 'subscriptionresourceid':
      return `/subscriptions/00000000-0000-0000-0000-000000000000/providers/${a[0]}/${a.slice(1).map(str).join('/')}`;
    case 'resourceid':
    case 'tenantresourceid': {
      const at = a.findIndex((v) => typeof v === 'string' && /^[A-Za-z]+\.[\w.]+\/[\w/]+$/.test(v));
      const scopeId =
        name === 'tenantresourceid' ? '' : '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg';
      return `${scopeId}${providerPath(a[at] as string, a.slice(at + 1))}`;
    }
    case 'extensionresourceid':
      return `${str(a[0]!)}${providerPath(a[1] as string, a.slice(2))}`;
  }
  throw new Error(`ARM function ${name}() is not supported by the test evaluator`);
}
