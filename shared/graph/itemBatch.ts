import { GraphRetriesExhaustedError, isAccessDenial, MailboxAccessDeniedError } from './errors.js';
import type { GraphHttp } from './graphHttp.js';
import { redirectTarget } from './redirects.js';
import { backoffDelay, delay, parseRetryAfter } from './retry.js';
import type { MailboxItem } from './types.js';

/** Graph's JSON batching limit. */
export const MAX_BATCH_REQUESTS = 20;

/** Sub-request statuses asked again in a later batch: throttled, service trouble, or skipped for a failed dependency. */
const ASKED_AGAIN = new Set([424, 429, 500, 502, 503, 504]);

export interface BatchedItemsRequest {
  mailboxId: string;
  /** `{base}/{version}/$batch`. */
  batchUrl: string;
  /** Each item's GET, relative to the version (`/admin/exchange/mailboxes/…?$expand=…`). */
  requests: Array<{ id: string; url: string }>;
  signal?: AbortSignal;
}

export interface BatchedItems<T = MailboxItem> {
  /** Each answered GET's entity, by the request's id. */
  items: Map<string, T>;
  /** Items Graph did not give, with why (an item deleted since it was listed: ErrorItemNotFound). */
  missing: Array<{ id: string; code: string; message: string }>;
}

interface SubResponse {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: { id?: string; error?: { code?: string; message?: string } };
}

/**
 * GETs through `$batch` (items, folders by alias), up to 20 per call. The GETs of one call are chained with dependsOn, so Graph runs
 * them one after another: each call then holds one of the mailbox's four concurrency slots at Graph, as it holds
 * one of ours. What was throttled, failed on Graph's side or skipped after a failed dependency is asked again;
 * a round that made no progress counts as a retry, and is waited for as Retry-After or the backoff says.
 */
export async function getByBatch<T = MailboxItem>(
  http: GraphHttp,
  request: BatchedItemsRequest,
  sleep: typeof delay = delay,
): Promise<BatchedItems<T>> {
  const result: BatchedItems<T> = { items: new Map(), missing: [] };
  const retry = http.options.retry;
  let pending = request.requests;
  for (let attempt = 0; pending.length > 0;) {
    const chunks: Array<typeof pending> = [];
    for (let i = 0; i < pending.length; i += MAX_BATCH_REQUESTS) chunks.push(pending.slice(i, i + MAX_BATCH_REQUESTS));
    const answers = (await Promise.all(chunks.map((chunk) => sendChunk(http, request, chunk)))).flat();
    const again = new Set<string>();
    let stalled = false;
    let retryAfterInMs = 0;
    for (const answer of answers) {
      if (answer.status < 300 && answer.body?.id) result.items.set(answer.id, answer.body as T);
      else if (answer.status === 308) await getRedirected(http, request, answer, result);
      else if (ASKED_AGAIN.has(answer.status)) {
        again.add(answer.id);
        if (answer.status !== 424) stalled = true;
        const after = parseRetryAfter(answer.headers?.['retry-after'] ?? answer.headers?.['Retry-After']);
        if (after !== undefined) retryAfterInMs = Math.max(retryAfterInMs, after);
      } else result.missing.push(permanentFailure(request.mailboxId, answer));
    }
    pending = pending.filter((sub) => again.has(sub.id));
    if (pending.length === 0 || !stalled) continue;
    attempt++;
    if (attempt > retry.maxRetries)
      throw new GraphRetriesExhaustedError(
        'getItems',
        attempt,
        `${pending.length} item reads still throttled or failing`,
      );
    await sleep(
      Math.min(Math.max(retryAfterInMs, backoffDelay(attempt, retry)), retry.maxRetryAfterInMs),
      request.signal,
    );
  }
  return result;
}

async function sendChunk(
  http: GraphHttp,
  request: BatchedItemsRequest,
  chunk: Array<{ id: string; url: string }>,
): Promise<SubResponse[]> {
  const requests = chunk.map((sub, index) => ({
    id: sub.id,
    method: 'GET',
    url: sub.url,
    ...(index > 0 ? { dependsOn: [chunk[index - 1]!.id] } : {}),
  }));
  const { body } = await http.json<{ responses?: SubResponse[] }>({
    operation: 'getItems',
    mailboxId: request.mailboxId,
    method: 'POST',
    url: request.batchUrl,
    headers: { 'Content-Type': 'application/json' },
    body: () => JSON.stringify({ requests }),
    authenticate: true,
    ...(request.signal ? { signal: request.signal } : {}),
  });
  const answered = new Map((body?.responses ?? []).map((answer) => [answer.id, answer]));
  // A request the answer leaves out is asked again, as service trouble (so a round of only those counts as a retry).
  return chunk.map((sub) => answered.get(sub.id) ?? { id: sub.id, status: 503 });
}

/**
 * An item of an archive's auxiliary mailbox: its sub-request answered 308 (graph-mailbox-api.md §5.3), so it is
 * asked at the Location on its own, where graphHttp follows any further hop; a Location not to follow fails.
 */
async function getRedirected<T>(
  http: GraphHttp,
  request: BatchedItemsRequest,
  answer: SubResponse,
  result: BatchedItems<T>,
): Promise<void> {
  const location = answer.headers?.location ?? answer.headers?.Location ?? null;
  const target = redirectTarget(location, request.batchUrl, http.options.trustedOrigins, 0);
  const { status, body } = await http.json<SubResponse['body']>({
    operation: 'getRedirected',
    mailboxId: target.mailboxId,
    method: 'GET',
    url: target.url,
    authenticate: true,
    passStatuses: [404],
    ...(request.signal ? { signal: request.signal } : {}),
  });
  if (status < 300 && body?.id) result.items.set(answer.id, body as T);
  else result.missing.push(permanentFailure(request.mailboxId, { id: answer.id, status, ...(body ? { body } : {}) }));
}

/** A sub-request Graph refused for good: the mailbox refused to the app ends the call, anything else names the item. */
function permanentFailure(mailboxId: string, answer: SubResponse): { id: string; code: string; message: string } {
  const code = answer.body?.error?.code ?? String(answer.status);
  const message = answer.body?.error?.message ?? `status ${answer.status}`;
  if (isAccessDenial(answer.status, code))
    throw new MailboxAccessDeniedError(mailboxId, { status: answer.status, code, message, operation: 'getItems' });
  return { id: answer.id, code, message };
}
