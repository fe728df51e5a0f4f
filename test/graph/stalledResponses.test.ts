import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExportStreamError, GraphRetriesExhaustedError, MailboxClient } from '../../shared/graph/index.js';

// Answers that send their start and then nothing more, as a stalled connection does: an exportItems response
// stops inside its first item, any other call's JSON inside its first property.
let server: Server;
let baseUrl: string;
const open = new Set<ServerResponse>();
let droppedAnswers = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url!.endsWith('/folders/dropped')) {
      // The first answer loses its connection halfway through the body; the next one is whole.
      response.writeHead(200, { 'Content-Type': 'application/json' });
      if (droppedAnswers++ === 0) {
        response.write('{"id":"dropped","displayNa');
        setTimeout(() => response.destroy(), 20);
      } else response.end('{"id":"dropped","displayName":"Dropped","totalItemCount":3}');
      return;
    }
    open.add(response);
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.write(
      request.url!.endsWith('/exportItems')
        ? '{"value":[{"itemId":"a","changeKey":"k","data":"AAAA'
        : '{"id":"inbox","displayName":"In',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const response of open) response.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const credential = { getToken: async () => ({ token: 'token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

async function drain(client: MailboxClient, signal?: AbortSignal): Promise<unknown> {
  try {
    for await (const item of client.exportItems('mbx', ['a', 'b'], { signal }))
      if (item.data) for await (const chunk of item.data) void chunk;
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('an export response that stalls', () => {
  it('is abandoned after the idle timeout, failing the item being read and giving its mailbox permit back', async () => {
    // One request per mailbox: a permit kept by the stalled call would hold the second call back for ever.
    const client = new MailboxClient(credential, {
      baseUrl,
      exportIdleTimeoutInMs: 300,
      maxConcurrentRequestsPerMailbox: 1,
    });
    for (const attempt of [1, 2]) {
      const started = Date.now();
      const error = await drain(client);
      expect(error, `attempt ${attempt}`).toBeInstanceOf(ExportStreamError);
      expect((error as Error).message).toMatch(/No data from Graph for 300 ms/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    }
  });

  it('is abandoned at once when the caller gives up', async () => {
    const client = new MailboxClient(credential, { baseUrl, exportIdleTimeoutInMs: 60_000 });
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('caller gave up')), 200);
    const error = await drain(client, abort.signal);
    // The caller's reason, not the idle timeout's (a minute): the abort ended it.
    expect((error as Error).message).toMatch(/caller gave up/);
  });
});

describe('a JSON answer that breaks off', () => {
  it('is retried, and the whole answer of the retry is the one read', async () => {
    const client = new MailboxClient(credential, {
      baseUrl,
      requestTimeoutInMs: 5_000,
      retry: { maxRetries: 2, baseDelayInMs: 1 },
    });
    const folder = await client.getFolder('mbx', 'dropped');
    expect(folder).toMatchObject({ id: 'dropped', displayName: 'Dropped' });
    expect(droppedAnswers).toBe(2);
  });
});

describe('a JSON answer that stalls', () => {
  it('is given up after the request timeout, retried, and reported', async () => {
    const client = new MailboxClient(credential, {
      baseUrl,
      requestTimeoutInMs: 1_000,
      retry: { maxRetries: 1, baseDelayInMs: 1 },
    });
    const started = Date.now();
    const error = await client.getFolder('mbx', 'inbox').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphRetriesExhaustedError);
    expect((error as Error).message).toMatch(/broke off/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900); // two attempts, each waited out
  });
});
