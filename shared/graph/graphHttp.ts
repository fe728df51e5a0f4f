import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { IncomingMessage, STATUS_CODES, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import {
  GraphAccessDeniedError,
  GraphRequestError,
  GraphRetriesExhaustedError,
  isAccessDenial,
  MailboxAccessDeniedError,
} from './errors.js';
import type { MailboxLimiter } from './mailboxLimiter.js';
import { rolesInToken } from './permissions.js';
import { redirectTarget } from './redirects.js';
import { type MailboxPermit, type ThrottleTally } from './mailboxLimiter.js';
import { backoffDelay, defaultRetryOptions, delay, parseRetryAfter, type GraphRetryOptions } from './retry.js';
import { MailboxVaultError } from '../errors.js';

export interface GraphLogger {
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: GraphLogger = { info: () => {}, warn: () => {} };

export interface GraphHttpOptions {
  /** Token scope; Graph's own for Graph and for the simulator alike. */
  scope: string;
  limiter: MailboxLimiter;
  retry: GraphRetryOptions;
  /** Time allowed until response headers arrive. */
  requestTimeoutInMs: number;
  logger: GraphLogger;
  /** Origins a bearer token may be sent to (the configured Graph base). Links elsewhere are refused. */
  trustedOrigins: string[];
}

export type RetryPolicy =
  /** Reads and idempotent writes: retry 429, 5xx and network errors. */
  | 'idempotent'
  /** Non-idempotent writes: retry only what the server certainly did not process (429, 503 before processing). */
  | 'notProcessedOnly'
  /**
   * A call the caller can split into smaller ones (exportItems for several items): a 504 or no answer within
   * the request timeout is handed back at once, as the same call would most likely time out again; the rest
   * as 'idempotent'.
   */
  | 'splitOnTimeout';

export interface GraphCall {
  operation: string;
  mailboxId?: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /**
   * A factory, so a retried call sends a fresh body (streams can be read once). A Node stream is piped, so it
   * waits for the socket to drain (Node 20's fetch reads a request body ahead without bound).
   */
  body?: () => string | Readable;
  /** false for the pre-authenticated importUrl: it must never receive the Graph token. */
  authenticate: boolean;
  /** Bytes the body uploads: each attempt is paced under the mailbox's upload budget (see MailboxLimiter). */
  uploadBytes?: number;
  /** Where this call's own throttling is counted (see ThrottleTally). */
  tally?: ThrottleTally;
  retryPolicy?: RetryPolicy;
  /** Statuses the caller handles itself (returned, not thrown, never retried). */
  passStatuses?: number[];
  /**
   * The request timeout also bounds reading the body, until `release()` (small JSON answers). Without it only
   * the headers are timed, and the caller bounds the body itself (an export response streams for minutes).
   */
  timeBody?: boolean;
  signal?: AbortSignal;
}

/** What node:http answered: status and headers as a body-less fetch Response, and the body as it arrives. */
interface NodeAnswer {
  response: Response;
  body?: Readable;
}

/** A response whose body is still open; the mailbox permit is held until `release()`. */
export interface OpenResponse {
  /** Status and headers (without a body: that is `body`). */
  response: Response;
  /** The body as the Node stream it arrives on; none for 204 and 304. */
  body?: Readable;
  release(): void;
}

interface GraphErrorBody {
  code: string;
  message: string;
  requestId?: string;
}

/** Reads Graph's `{error:{code,message}}`, Outlook's `{Message}`, or falls back to the status text. */
export function errorBodyOf(response: Response, text: string): GraphErrorBody {
  const statusText = STATUS_CODES[response.status] ?? '';
  const requestId = response.headers.get('request-id') ?? undefined;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const error = (parsed.error ?? parsed.Error) as Record<string, unknown> | undefined;
    if (error && typeof error === 'object') {
      const inner = (error.innerError ?? error.innererror) as Record<string, unknown> | undefined;
      return {
        code: String(error.code ?? error.Code ?? response.status),
        message: String(error.message ?? error.Message ?? statusText),
        requestId: (inner?.['request-id'] as string | undefined) ?? requestId,
      };
    }
    if (typeof parsed.Message === 'string')
      return { code: String(response.status), message: parsed.Message, requestId };
  } catch {
    /* not JSON */
  }
  return { code: String(response.status), message: text.slice(0, 200) || statusText, requestId };
}

/**
 * Whether a failed status is worth asking again: throttling always; service trouble when the call is
 * idempotent, or when it is a 503, which Graph answers before processing anything.
 */
function isRetriableStatus(status: number, policy: RetryPolicy): boolean {
  if (status === 429 || status === 503) return true;
  if (status === 504) return policy === 'idempotent';
  return (status === 500 || status === 502) && policy !== 'notProcessedOnly';
}

function isAbortFrom(signal: AbortSignal | undefined, error: unknown): boolean {
  return signal?.aborted === true && (error === signal.reason || (error as Error)?.name === 'AbortError');
}

/**
 * The transport under the mailbox client: bearer auth with one refresh on 401, the per-mailbox limiter,
 * Retry-After and backoff, and a header timeout. It never logs a URL's query, a header or a body.
 */
export class GraphHttp {
  private token: AccessToken | undefined;
  private tokenRequest: Promise<AccessToken> | undefined;

  constructor(
    private readonly credential: TokenCredential,
    readonly options: GraphHttpOptions,
  ) {}

  private async getToken(forceRefresh: boolean): Promise<string> {
    if (forceRefresh) this.token = undefined;
    const margin = 2 * 60_000;
    if (this.token && this.token.expiresOnTimestamp - margin > Date.now()) return this.token.token;
    this.tokenRequest ??= (async () => {
      try {
        const token = await this.credential.getToken(this.options.scope);
        if (!token) throw new Error('The credential returned no Graph token');
        return token;
      } finally {
        this.tokenRequest = undefined;
      }
    })();
    this.token = await this.tokenRequest;
    return this.token.token;
  }

  assertTrusted(url: string): void {
    const origin = new URL(url).origin;
    if (!this.options.trustedOrigins.includes(origin)) {
      throw new Error(`Refusing to send a Graph token to ${origin}: it is not the configured Graph endpoint`);
    }
  }

  /**
   * Sends the call; returns the response with its body open (the caller must `release()` once done with it).
   * An archive's 308 (graph-mailbox-api.md §5.3) is followed here, so every folder and item read gets it: the
   * same method and body, to the mailbox the Location names (redirects.ts says which are followed), with the
   * bearer token attached again by us rather than forwarded by an automatic redirect.
   */
  async open(call: GraphCall): Promise<OpenResponse> {
    if (!call.authenticate) return this.openOnce(call);
    let current = call;
    for (let hops = 0; ; hops++) {
      const opened = await this.openOnce({ ...current, passStatuses: [...(current.passStatuses ?? []), 308] });
      if (opened.response.status !== 308) return opened;
      await readBody(opened.body, { partialOk: true });
      opened.release(); // held longer if the body broke off (see handOver)
      const location = opened.response.headers.get('location');
      const target = redirectTarget(location, current.url, this.options.trustedOrigins, hops);
      current = { ...current, url: target.url, ...(current.mailboxId ? { mailboxId: target.mailboxId } : {}) };
    }
  }

  private async openOnce(call: GraphCall): Promise<OpenResponse> {
    const { retry, logger } = this.options;
    const policy = call.retryPolicy ?? 'idempotent';
    if (call.authenticate) this.assertTrusted(call.url);
    let refreshedToken = false;
    let lastReason = '';
    for (let attempt = 1; ; attempt++) {
      call.signal?.throwIfAborted();
      const permit = await this.admit(call);
      let answer: NodeAnswer;
      const headerTimeout = new AbortController();
      const timer = setTimeout(() => headerTimeout.abort(new Error('timeout')), this.options.requestTimeoutInMs);
      const signal = call.signal ? AbortSignal.any([call.signal, headerTimeout.signal]) : headerTimeout.signal;
      try {
        answer = await this.send(call, signal);
      } catch (error) {
        clearTimeout(timer);
        permit?.releaseAfterLostAnswer(); // Exchange may still be working on it
        if (isAbortFrom(call.signal, error)) throw error;
        lastReason = headerTimeout.signal.aborted
          ? 'no response within the request timeout'
          : `network error (${(error as Error).message})`;
        if (policy === 'notProcessedOnly' || (policy === 'splitOnTimeout' && headerTimeout.signal.aborted))
          throw new NetworkFailure(lastReason, { cause: error });
        if (attempt > retry.maxRetries) throw new GraphRetriesExhaustedError(call.operation, attempt, lastReason);
        const wait = backoffDelay(attempt, retry);
        logger.warn(`${call.operation}: ${lastReason}; retrying in ${wait} ms (attempt ${attempt})`);
        await delay(wait, call.signal);
        continue;
      }
      const status = answer.response.status;
      if (status < 300 || call.passStatuses?.includes(status)) {
        if (status === 403 && call.mailboxId && call.authenticate) {
          try {
            answer = await this.unlessDenied(call, answer);
          } catch (denied) {
            clearTimeout(timer);
            releaseAfterAnswer(permit, answer.body);
            throw denied;
          }
        }
        return this.handOver(call, answer, timer, permit);
      }
      // Everything below consumes the error body (within the request timeout) and frees the permit before deciding.
      timer.refresh();
      const error = errorBodyOf(answer.response, await readBody(answer.body, { partialOk: true }));
      clearTimeout(timer);
      releaseAfterAnswer(permit, answer.body);

      if (status === 401 && call.authenticate && !refreshedToken) {
        refreshedToken = true;
        await this.getToken(true);
        logger.warn(`${call.operation}: 401 ${error.code}; refreshed the token once`);
        attempt--;
        continue;
      }

      // A refusal (a missing permission, a mailbox outside the app's RBAC scope) is final, and said so plainly.
      if (isAccessDenial(status, error.code) && call.authenticate) throw this.denial(call, { status, ...error });
      if (!isRetriableStatus(status, policy))
        throw new GraphRequestError({ status, ...error, operation: call.operation });
      lastReason = `${status} ${error.code}`;
      if (attempt > retry.maxRetries) throw new GraphRetriesExhaustedError(call.operation, attempt, lastReason);
      const wait = this.retryWait(call, answer.response, error.code, attempt);
      // A throttled mailbox's pause is waited out in the limiter, which holds every request of the mailbox.
      if (status === 429 && call.mailboxId) continue;
      await delay(wait, call.signal);
    }
  }

  /**
   * The mailbox's permit for one attempt, its upload paced. A mailbox whose limits are held with other instances
   * is admitted under its budget once its slot is held (a slot can take a while to come free there, and uploads
   * admitted first would then leave together), and its budget is told when the upload ended: the permit's release.
   */
  private async admit(call: GraphCall): Promise<MailboxPermit | undefined> {
    const { limiter } = this.options;
    if (!call.mailboxId) return undefined;
    const upload = call.uploadBytes ?? 0;
    const paceAfterSlot = limiter.isSharedAcrossInstances(call.mailboxId);
    if (upload && !paceAfterSlot) await limiter.paceUpload(call.mailboxId, upload, call.signal);
    const permit = await limiter.acquire(call.mailboxId, call.signal, call.tally);
    if (!upload || !paceAfterSlot) return permit;
    let ended: () => void;
    try {
      ended = await limiter.paceUpload(call.mailboxId, upload, call.signal);
    } catch (error) {
      permit.release();
      throw error;
    }
    return {
      release: () => {
        ended();
        permit.release();
      },
      releaseAfterLostAnswer: () => {
        ended();
        permit.releaseAfterLostAnswer();
      },
    };
  }

  /**
   * A 403 the caller takes itself (a delta round's, which may be a quota) is still final when it refuses the
   * mailbox, decided here like every other call's; any other 403 is handed over with its body intact.
   */
  private async unlessDenied(call: GraphCall, answer: NodeAnswer): Promise<NodeAnswer> {
    const text = await readBody(answer.body, { partialOk: true });
    const error = errorBodyOf(answer.response, text);
    if (isAccessDenial(403, error.code)) throw this.denial(call, { status: 403, ...error });
    return { response: answer.response, body: Readable.from([Buffer.from(text)]) };
  }

  /** The error for a refused call, worded with the roles the token it carried says it has. */
  private denial(call: GraphCall, error: { status: number; code: string; message: string; requestId?: string }) {
    const details = { ...error, operation: call.operation };
    const roles = rolesInToken(this.token?.token);
    return call.mailboxId
      ? new MailboxAccessDeniedError(call.mailboxId, details, roles)
      : new GraphAccessDeniedError(details, roles);
  }

  /** One attempt on the wire, with a fresh body and, for Graph itself, the bearer token. */
  private async send(call: GraphCall, signal: AbortSignal): Promise<NodeAnswer> {
    const headers: Record<string, string> = { Accept: 'application/json', ...call.headers };
    if (call.authenticate) headers.Authorization = `Bearer ${await this.getToken(false)}`;
    // node:http rather than fetch: fetch passes every byte of an answer through web streams and a decompressor,
    // which for an export response costs more CPU than reading it does. Answers are asked for uncompressed.
    return sendWithNodeHttp(
      call.url,
      call.method,
      { ...headers, 'Accept-Encoding': 'identity' },
      call.body?.(),
      signal,
    );
  }

  /**
   * The answer goes to the caller, who holds the permit (and for `timeBody` the timeout) until `release()`; an
   * answer whose body did not arrive whole (it broke off, or the caller stopped reading) holds it longer.
   */
  private handOver(
    call: GraphCall,
    answer: NodeAnswer,
    timer: NodeJS.Timeout,
    permit: MailboxPermit | undefined,
  ): OpenResponse {
    if (call.timeBody) timer.refresh();
    else clearTimeout(timer);
    if (call.mailboxId && answer.response.status < 300) this.options.limiter.onSuccess(call.mailboxId);
    return {
      response: answer.response,
      ...(answer.body ? { body: answer.body } : {}),
      release: () => {
        clearTimeout(timer);
        releaseAfterAnswer(permit, answer.body);
      },
    };
  }

  /**
   * How long to wait before asking again after a retriable status. A 429 pauses the whole mailbox in the
   * limiter (and counts against the call's tally); other statuses back off unless Graph says how long.
   */
  private retryWait(call: GraphCall, response: Response, errorCode: string, attempt: number): number {
    const { retry, limiter, logger } = this.options;
    const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
    if (response.status === 429) {
      const wait = Math.min(retryAfter ?? retry.defaultRetryAfterInMs, retry.maxRetryAfterInMs);
      if (call.mailboxId) limiter.onThrottled(call.mailboxId, wait);
      if (call.tally) call.tally.throttledResponses++;
      logger.warn(`${call.operation}: throttled (${errorCode}); mailbox paused ${wait} ms`);
      return wait;
    }
    const wait =
      retryAfter !== undefined ? Math.min(retryAfter, retry.maxRetryAfterInMs) : backoffDelay(attempt, retry);
    logger.warn(`${call.operation}: ${response.status} ${errorCode}; retrying in ${wait} ms (attempt ${attempt})`);
    return wait;
  }

  /**
   * Sends the call and parses a JSON body (small responses: pages, sessions, folders). A body that breaks off
   * is retried like a network error when the call is idempotent.
   */
  async json<T>(call: GraphCall): Promise<{ status: number; body: T }> {
    const { retry, logger } = this.options;
    for (let attempt = 1; ; attempt++) {
      const { response, body, release } = await this.open({ ...call, timeBody: true });
      try {
        const text = await readBody(body);
        return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
      } catch (error) {
        const reason = `the response body broke off or was not JSON (${(error as Error).message})`;
        if ((call.retryPolicy ?? 'idempotent') !== 'idempotent')
          throw new NetworkFailure(`${call.operation}: ${reason}`, { cause: error });
        if (attempt > retry.maxRetries) throw new GraphRetriesExhaustedError(call.operation, attempt, reason);
        const wait = backoffDelay(attempt, retry);
        logger.warn(`${call.operation}: ${reason}; retrying in ${wait} ms`);
        await delay(wait, call.signal);
      } finally {
        release();
      }
    }
  }
}

/**
 * Sends a request with node:http(s) and answers with its status and headers as a body-less fetch Response, and
 * the body as the Node stream it is. A Node stream body goes through `pipe`, which honours the socket's
 * backpressure, so memory stays at a few chunks whatever the body's size (Node 20's fetch reads a request body
 * ahead without bound).
 */
function sendWithNodeHttp(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | Readable | undefined,
  signal: AbortSignal,
): Promise<NodeAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    // A stream is sent chunked unless the caller declared its length (and so answers for sending exactly that).
    const declared = Object.keys(headers).some((name) => name.toLowerCase() === 'content-length');
    const framing =
      body instanceof Readable
        ? declared
          ? {}
          : { 'Transfer-Encoding': 'chunked' }
        : { 'Content-Length': String(body === undefined ? 0 : Buffer.byteLength(body)) };
    let answer: IncomingMessage | undefined;
    const request = send(target, { method, headers: { ...headers, ...framing } }, (incoming: IncomingMessage) => {
      answer = incoming;
      const responseHeaders = new Headers();
      for (const [key, value] of Object.entries(incoming.headers))
        if (value !== undefined) responseHeaders.set(key, Array.isArray(value) ? value.join(', ') : value);
      const status = incoming.statusCode ?? 0;
      const hasBody = status !== 204 && status !== 304;
      // Whoever reads the body sees its errors through their own listeners; an abort after reading stopped
      // (the caller ends the request however reading ends) must not become an uncaught 'error'.
      incoming.on('error', () => undefined);
      if (!hasBody) incoming.resume();
      resolve({
        response: new Response(null, { status, headers: responseHeaders }),
        ...(hasBody ? { body: incoming } : {}),
      });
    });
    request.on('error', reject); // later errors (an abort once the body is being read) settle nothing
    // Aborting ends the exchange wherever it is: before the answer, or while its body is still arriving. Once
    // the answer is complete its socket may be back in the keep-alive pool, serving another request: leave it.
    const onAbort = () => {
      if (answer?.complete) return;
      request.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    if (signal.aborted) onAbort();
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      request.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    if (body instanceof Readable) {
      body.once('error', (error) => request.destroy(error));
      body.pipe(request);
    } else {
      request.end(body);
    }
  });
}

/**
 * Frees a permit once its answer is done with: at the usual moment when the answer arrived whole, later when it
 * broke off or was abandoned, as Exchange may then still be working on the request (LOST_ANSWER_SLOT_HOLD_IN_MS).
 */
function releaseAfterAnswer(permit: MailboxPermit | undefined, body: Readable | undefined): void {
  if (body instanceof IncomingMessage && !body.complete) permit?.releaseAfterLostAnswer();
  else permit?.release();
}

/**
 * A (short) answer body as text; rejects when it breaks off, unless `partialOk` (an error answer, of which what
 * arrived is the best there is).
 */
export async function readBody(body: Readable | undefined, options: { partialOk?: boolean } = {}): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    if (body) for await (const chunk of body) chunks.push(chunk as Buffer);
  } catch (error) {
    if (!options.partialOk) throw error;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A transport failure with no HTTP answer, surfaced to callers that must not retry blindly. */
export class NetworkFailure extends MailboxVaultError {
  readonly code = 'NetworkFailure';
}

export { defaultRetryOptions };
