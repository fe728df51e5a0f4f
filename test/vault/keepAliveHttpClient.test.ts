import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RestError, createHttpHeaders, createPipelineRequest, createEmptyPipeline } from '@azure/core-rest-pipeline';
import { storageRetryPolicy } from '@azure/storage-common';
import { createKeepAliveHttpClient } from '../../shared/vault/keepAliveHttpClient.js';

// A Blob endpoint stand-in whose behaviour each test scripts per request.
let server: Server;
let baseUrl: string;
let handle: (request: IncomingMessage, body: Buffer, response: ServerResponse) => void = () => undefined;

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => handle(request, Buffer.concat(chunks), response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const put = (path: string, body: Buffer, extra: { timeout?: number; abortSignal?: AbortSignal } = {}) =>
  createPipelineRequest({
    url: `${baseUrl}${path}`,
    method: 'PUT',
    body,
    headers: createHttpHeaders({ 'x-ms-meta-a': 'b', 'Content-Length': String(body.length) }),
    allowInsecureConnection: true,
    ...extra,
  });

describe('the keep-alive HTTP client under Put Blob', () => {
  it('sends the body and headers as given and answers with the status, headers and error text', async () => {
    const seen: Array<{ method?: string; url?: string; meta?: string | string[]; body: string }> = [];
    handle = (request, body, response) => {
      seen.push({
        method: request.method,
        url: request.url,
        meta: request.headers['x-ms-meta-a'],
        body: body.toString(),
      });
      response.writeHead(409, { 'x-ms-error-code': 'BlobAlreadyExists' }).end('<Error>exists</Error>');
    };
    const client = createKeepAliveHttpClient();
    const response = await client.sendRequest(put('/c/a%20b?sv=1', Buffer.from('bytes')));
    expect(seen).toEqual([{ method: 'PUT', url: '/c/a%20b?sv=1', meta: 'b', body: 'bytes' }]);
    expect(response.status).toBe(409);
    expect(response.headers.get('x-ms-error-code')).toBe('BlobAlreadyExists');
    expect(response.bodyAsText).toBe('<Error>exists</Error>');
  });

  it('fails a dropped connection with its network code, which the Storage retry policy retries', async () => {
    let calls = 0;
    handle = (_request, _body, response) => {
      if (++calls === 1)
        response.socket!.destroy(); // the connection drops before any answer
      else response.writeHead(201).end();
    };
    const client = createKeepAliveHttpClient();
    const direct = await client.sendRequest(put('/c/x', Buffer.from('1'))).catch((error: unknown) => error);
    expect(direct).toBeInstanceOf(RestError);
    expect((direct as RestError).code).toMatch(/ECONNRESET|REQUEST_SEND_ERROR/);

    calls = 0;
    const pipeline = createEmptyPipeline();
    pipeline.addPolicy(storageRetryPolicy({ retryDelayInMs: 1, maxRetryDelayInMs: 5 }));
    const response = await pipeline.sendRequest(client, put('/c/y', Buffer.from('2')));
    expect(response.status).toBe(201);
    expect(calls).toBe(2);
  });

  it('gives up on a silent server after the request timeout, and at once when aborted', async () => {
    handle = () => undefined; // never answers
    const client = createKeepAliveHttpClient();
    const timedOut = await client
      .sendRequest(put('/c/t', Buffer.from('t'), { timeout: 200 }))
      .catch((error: unknown) => error);
    expect((timedOut as RestError).code).toBe('TIMEOUT');

    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    // The server never answers and the request has no timeout: only the abort can end it.
    const aborted = await client
      .sendRequest(put('/c/u', Buffer.from('u'), { abortSignal: abort.signal }))
      .catch((error: unknown) => error);
    expect((aborted as RestError).code).toBe('ABORT_ERR');
  });

  it('will not send over plain http unless the request allows it', async () => {
    const request = put('/c/z', Buffer.from('z'));
    request.allowInsecureConnection = false;
    const error = await createKeepAliveHttpClient()
      .sendRequest(request)
      .catch((e: unknown) => e);
    expect((error as RestError).code).toBe('INSECURE_CONNECTION');
  });
});
