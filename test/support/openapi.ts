import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Graph OpenAPI subsets and the docs' examples, kept with the tests (where they come from: SOURCES.md). */
export const GRAPH_REFERENCE = join(import.meta.dirname, '..', 'fixtures', 'graph');

type Json = Record<string, unknown>;

export interface DocExample {
  name: string;
  page: string;
  version: 'v1.0' | 'beta';
  docs_set: string;
  request: { method: string; url: string; headers: Record<string, string>; body: unknown };
  response: { status: number; body: unknown };
}

export function loadDocExamples(): DocExample[] {
  return JSON.parse(readFileSync(join(GRAPH_REFERENCE, 'graph-mailbox-doc-examples.json'), 'utf8')) as DocExample[];
}

/**
 * Validates requests and responses against one OpenAPI subset: finds the operation for a method and path
 * (path templates as the converter writes them, `delta()` included) and checks bodies with Ajv.
 */
export class OpenApiSubset {
  private readonly doc: Json;
  private readonly ajv: Ajv;
  private readonly operations: Array<{ method: string; template: string; pattern: RegExp; operation: Json }> = [];
  private readonly validators = new Map<unknown, ValidateFunction>();

  constructor(version: 'v1.0' | 'beta') {
    this.doc = JSON.parse(
      readFileSync(join(GRAPH_REFERENCE, `graph-mailbox-openapi.${version === 'v1.0' ? 'v1' : 'beta'}.json`), 'utf8'),
    ) as Json;
    // OpenAPI 3.0 keywords (nullable, discriminator, x-ms-*) are not JSON Schema: let Ajv pass what it does not know.
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true, discriminator: false });
    // ajv-formats is CommonJS with a default export.
    (addFormatsModule as unknown as { default: (ajv: Ajv) => void }).default(this.ajv);
    const components = (this.doc.components as Json).schemas as Json;
    // The converter's EnableDiscriminatorValue marks '@odata.type' required on every entity, yet Graph's own
    // documented responses (exportItems, createImportSession, settings/exchange) leave it out: not a contract.
    const relax = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(relax);
      else if (node && typeof node === 'object') {
        const object = node as Json;
        if (Array.isArray(object.required))
          object.required = (object.required as string[]).filter((r) => r !== '@odata.type');
        Object.values(object).forEach(relax);
      }
    };
    relax(this.doc);
    this.ajv.addSchema({ $id: 'openapi', components: { schemas: components } });
    for (const [template, item] of Object.entries(this.doc.paths as Json)) {
      const regex = template
        .split('/')
        .map((segment) =>
          segment.startsWith('{')
            ? '[^/]+'
            : segment.replace(/[$().]/g, (c) => `\\${c}`).replace('delta\\(\\)', 'delta(?:\\(\\))?'),
        )
        .join('/');
      for (const [method, operation] of Object.entries(item as Json)) {
        if (['get', 'post', 'patch', 'delete', 'put'].includes(method)) {
          this.operations.push({
            method: method.toUpperCase(),
            template,
            pattern: new RegExp(`^${regex}$`),
            operation: operation as Json,
          });
        }
      }
    }
  }

  /** The operation for a request path relative to the version root, e.g. `/admin/exchange/mailboxes/X/folders`. */
  find(method: string, path: string): { template: string; operation: Json } | undefined {
    return this.operations.find((o) => o.method === method && o.pattern.test(path));
  }

  private validator(schema: unknown): ValidateFunction {
    const cached = this.validators.get(schema);
    if (cached) return cached;
    const rewritten = JSON.parse(
      JSON.stringify(schema).replace(/"#\/components\//g, '"openapi#/components/'),
    ) as object;
    const validate = this.ajv.compile(rewritten);
    this.validators.set(schema, validate);
    return validate;
  }

  private check(schema: unknown, value: unknown): string[] {
    const validate = this.validator(schema);
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  }

  validateResponse(method: string, path: string, status: number, body: unknown): string[] {
    const found = this.find(method, path);
    if (!found) return [`no ${method} ${path} in the OpenAPI subset`];
    const responses = found.operation.responses as Json;
    const key =
      status >= 200 && status < 300
        ? responses[String(status)]
          ? String(status)
          : '2XX'
        : status < 500
          ? '4XX'
          : '5XX';
    let response = responses[key] as Json | undefined;
    if (!response) return [`no ${key} response for ${found.template}`];
    if (typeof response.$ref === 'string')
      response = (this.doc.components as Json).responses
        ? (((this.doc.components as Json).responses as Json)[response.$ref.split('/').pop()!] as Json)
        : response;
    const schema = ((response.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema;
    if (!schema) return body === undefined || body === null ? [] : [`${found.template} declares no body for ${status}`];
    return this.check(schema, body);
  }

  /** Query option names the operation declares ($top, $select, …). */
  queryParameters(method: string, path: string): string[] {
    const found = this.find(method, path);
    if (!found) return [];
    const components = ((this.doc.components as Json).parameters ?? {}) as Json;
    return ((found.operation.parameters ?? []) as Json[])
      .map((p) => (typeof p.$ref === 'string' ? (components[p.$ref.split('/').pop()!] as Json) : p))
      .filter((p) => p.in === 'query')
      .map((p) => String(p.name));
  }

  validateRequestBody(method: string, path: string, body: unknown): string[] {
    const found = this.find(method, path);
    if (!found) return [`no ${method} ${path} in the OpenAPI subset`];
    const schema = (
      ((found.operation.requestBody as Json | undefined)?.content as Json | undefined)?.['application/json'] as
        Json | undefined
    )?.schema;
    return schema ? this.check(schema, body) : [];
  }
}
