import { setTimeout as sleep } from 'node:timers/promises';
import { SimHttpError, readJsonBody, sendJson } from './http.js';
import type { GraphRequest } from './request.js';

/**
 * Marks a request the simulator sends itself for a `$batch`: it travels on no connection of the client's, so the
 * random connection drop spares it (a request dropped here would count on after the batch had answered).
 */
export const BATCH_REQUEST_HEADER = 'x-simulator-batch-request';

/** Graph's JSON batching limit. */
const MAX_BATCH_REQUESTS = 20;

interface BatchRequest {
  id: string;
  method: string;
  /** Relative to the version: `/admin/exchange/mailboxes/…`. */
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}

interface BatchResponse {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** Headers of a sub-response a client acts on. */
const ANSWERED_HEADERS = ['content-type', 'retry-after', 'location'];

/**
 * POST /$batch: up to 20 requests, each carried out as if sent on its own (the same throttling, faults and
 * latency: the simulator sends it to itself), those joined by `dependsOn` one after another. A request whose
 * dependency failed is not sent and answers 424, as Graph's batching documents.
 */
export async function batch(request: GraphRequest): Promise<void> {
  const { req, res } = request;
  const requests = validRequests(await readJsonBody<{ requests?: unknown }>(req));
  countBatch(request, requests);
  const byId = new Map(requests.map((sub) => [sub.id, sub]));
  const answers = new Map<string, Promise<BatchResponse>>();
  const answer = (sub: BatchRequest): Promise<BatchResponse> => {
    let pending = answers.get(sub.id);
    if (!pending) {
      pending = Promise.all((sub.dependsOn ?? []).map((id) => answer(byId.get(id)!))).then(async (dependencies) => {
        if (dependencies.some((dependency) => dependency.status >= 400)) return failedDependency(sub.id);
        // A chain runs within the slot its first request took: the next goes once that slot is free again.
        if (dependencies.length > 0) await sleep(request.state.settings.concurrencySlotHoldMs);
        return send(request, sub);
      });
      answers.set(sub.id, pending);
    }
    return pending;
  };
  const responses = await Promise.all(requests.map(answer));
  sendJson(res, 200, { responses });
}

/** The call counts once for each mailbox its requests name. */
function countBatch({ state }: GraphRequest, requests: BatchRequest[]): void {
  const mailboxIds = new Set<string>();
  for (const sub of requests) {
    const match = /^\/?admin\/exchange\/mailboxes\/([^/?]+)/i.exec(sub.url);
    if (match) mailboxIds.add(decodeURIComponent(match[1]!));
  }
  for (const id of mailboxIds) if (state.tenant.mailboxes.has(id)) state.throttle.countersFor(id).batchCalls++;
}

function validRequests(body: { requests?: unknown }): BatchRequest[] {
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0)
    throw new SimHttpError(400, 'BadRequest', 'The batch request must contain a requests array.');
  if (requests.length > MAX_BATCH_REQUESTS)
    throw new SimHttpError(400, 'BadRequest', `Number of batch requests exceeds the maximum of ${MAX_BATCH_REQUESTS}.`);
  const ids = new Set<string>();
  for (const sub of requests as BatchRequest[]) {
    if (typeof sub?.id !== 'string' || typeof sub.method !== 'string' || typeof sub.url !== 'string')
      throw new SimHttpError(400, 'BadRequest', 'Each batch request needs an id, a method and a url.');
    if (ids.has(sub.id)) throw new SimHttpError(400, 'BadRequest', 'Batch request contains duplicate ids.');
    ids.add(sub.id);
  }
  for (const sub of requests as BatchRequest[])
    for (const id of sub.dependsOn ?? [])
      if (!ids.has(id) || id === sub.id)
        throw new SimHttpError(400, 'BadRequest', `Request '${sub.id}' depends on an unknown request '${id}'.`);
  return requests as BatchRequest[];
}

/** One sub-request, sent to the simulator itself with the batch's own bearer token. */
async function send({ state, req, version }: GraphRequest, sub: BatchRequest): Promise<BatchResponse> {
  const url = `${state.baseUrl}/${version}${sub.url.startsWith('/') ? '' : '/'}${sub.url}`;
  const hasBody = sub.body !== undefined;
  const response = await fetch(url, {
    method: sub.method,
    // An archive's 308 is the sub-response, as Graph gives it: the client follows it, not the batch.
    redirect: 'manual',
    headers: {
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(hasBody ? { 'content-type': 'application/json' } : {}),
      ...sub.headers,
      [BATCH_REQUEST_HEADER]: '1',
    },
    ...(hasBody ? { body: JSON.stringify(sub.body) } : {}),
  });
  const text = await response.text();
  const headers: Record<string, string> = {};
  for (const name of ANSWERED_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return { id: sub.id, status: response.status, headers, ...(text ? { body: JSON.parse(text) as unknown } : {}) };
}

function failedDependency(id: string): BatchResponse {
  return {
    id,
    status: 424,
    headers: { 'content-type': 'application/json' },
    body: { error: { code: 'FailedDependency', message: 'A request this request depends on failed.' } },
  };
}
