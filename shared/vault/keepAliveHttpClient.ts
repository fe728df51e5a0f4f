import {
  Agent as HttpAgent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import {
  RestError,
  createHttpHeaders,
  type HttpClient,
  type HttpHeaders,
  type PipelineRequest,
  type PipelineResponse,
  type RequestBodyType,
} from '@azure/core-rest-pipeline';

/**
 * A core-rest-pipeline HttpClient for requests whose body is one Buffer (or none) and whose answer is a few
 * headers and a short text, or a body handed over as a stream (`streamResponseStatusCodes`): the vault's Put Blob
 * and Get Blob. It is the default client's job done with less: no AbortController, progress stream or header
 * object per request, and a kept-alive socket pool of its own, which matters because an exported item makes
 * one such request. Failures are `RestError`s with Node's error code (ECONNRESET, ETIMEDOUT, …) or
 * REQUEST_SEND_ERROR, as the default client throws them, so the Storage SDK's retry policy treats them the same
 * way. It does not read proxy settings, which Blob Storage from a Function app does not use.
 */
export function createKeepAliveHttpClient(maxSockets = 64): HttpClient {
  const transports: Record<'http' | 'https', Transport> = {
    http: { send: httpRequest, agent: new HttpAgent({ keepAlive: true, maxSockets }) },
    https: { send: httpsRequest, agent: new HttpsAgent({ keepAlive: true, maxSockets }) },
  };

  return {
    sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      return new Promise<PipelineResponse>((resolve, reject) => {
        const url = new URL(request.url);
        const secure = url.protocol === 'https:';
        const body = request.body;
        if (!secure && !request.allowInsecureConnection)
          reject(
            new RestError(`Refusing to send ${request.method} over plain http to ${url.host}`, {
              code: 'INSECURE_CONNECTION',
              request,
            }),
          );
        else if (!isBufferOrString(body))
          reject(
            new RestError('This HTTP client sends Buffer or string bodies only', { code: 'UNSUPPORTED_BODY', request }),
          );
        else if (request.abortSignal?.aborted) reject(abortError(request));
        else
          new Exchange(request, resolve, reject).send(
            url,
            secure ? transports.https : transports.http,
            body ?? undefined,
          );
      });
    },
  };
}

/** Node's request function for a protocol, with the kept-alive socket pool it sends through. */
interface Transport {
  send: typeof httpRequest;
  agent: HttpAgent;
}

function isBufferOrString(body: RequestBodyType | undefined): body is Buffer | string | undefined {
  return body === undefined || body === null || Buffer.isBuffer(body) || typeof body === 'string';
}

function abortError(request: PipelineRequest): RestError {
  return new RestError('The request was aborted', { code: 'ABORT_ERR', request });
}

function headersOf(incoming: IncomingMessage): HttpHeaders {
  const parsed = createHttpHeaders();
  const raw = incoming.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) parsed.set(raw[i]!, raw[i + 1]!);
  return parsed;
}

/** Errors of a body handed to the caller reach the caller's own listeners; this one only keeps them handled. */
function ignore(): void {}

/** One request and its answer: its listeners share the pending promise, the timer and the abort listener. */
class Exchange {
  private outgoing!: ClientRequest;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly request: PipelineRequest,
    private readonly resolve: (response: PipelineResponse) => void,
    private readonly reject: (error: RestError) => void,
  ) {}

  send(url: URL, transport: Transport, body: Buffer | string | undefined): void {
    const request = this.request;
    const headers: Record<string, string> = {};
    for (const [name, value] of request.headers) headers[name] = value;
    const options: RequestOptions = {
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      method: request.method,
      headers,
      agent: transport.agent,
    };
    this.outgoing = transport.send(options, this.onResponse);
    request.abortSignal?.addEventListener('abort', this.onAbort, { once: true });
    // Same meaning as the default client's `timeout`: the whole exchange, retried by the policy as TIMEOUT.
    if (request.timeout > 0)
      this.timer = setTimeout(
        () =>
          this.outgoing.destroy(new RestError(`No answer within ${request.timeout} ms`, { code: 'TIMEOUT', request })),
        request.timeout,
      );
    this.outgoing.once('error', this.fail);
    this.outgoing.end(body);
  }

  private readonly onResponse = (incoming: IncomingMessage): void => {
    const status = incoming.statusCode ?? 0;
    const streamed = this.request.streamResponseStatusCodes;
    if (streamed?.has(status) || streamed?.has(Number.POSITIVE_INFINITY)) this.handOver(incoming, status);
    else this.readText(incoming, status);
  };

  /** The caller reads the body (a download); the timer and the abort stay armed until it has. */
  private handOver(incoming: IncomingMessage, status: number): void {
    incoming.once('close', this.cleanUp);
    incoming.on('error', ignore);
    this.resolve({ request: this.request, status, headers: headersOf(incoming), readableStreamBody: incoming });
  }

  private readText(incoming: IncomingMessage, status: number): void {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.once('error', this.fail);
    incoming.once('end', () => {
      this.cleanUp();
      this.resolve({
        request: this.request,
        status,
        headers: headersOf(incoming),
        bodyAsText: chunks.length > 0 ? Buffer.concat(chunks).toString('utf8') : undefined,
      });
    });
  }

  private readonly onAbort = (): void => {
    this.outgoing.destroy(abortError(this.request));
  };

  private readonly cleanUp = (): void => {
    clearTimeout(this.timer);
    this.request.abortSignal?.removeEventListener('abort', this.onAbort);
  };

  private readonly fail = (error: Error & { code?: string }): void => {
    this.cleanUp();
    this.reject(
      error instanceof RestError
        ? error
        : new RestError(error.message, { code: error.code ?? 'REQUEST_SEND_ERROR', request: this.request }),
    );
  };
}
