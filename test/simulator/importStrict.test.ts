import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { connect } from 'node:net';
import { generatePayload } from '../../local/simulator/payload.js';
import type { Simulator } from '../../local/simulator/index.js';
import { RAW_HTTP, startSeededSimulator } from '../support/graph.js';

/**
 * The import endpoint as strict as Exchange's front end, over raw HTTP: a chunked body is refused (411), a body
 * over the limit is refused (413), a body shorter than its Content-Length is refused (400), and none is imported.
 */

const upn = 'strict@contoso.example';
const LIMIT = 1024 * 1024;
let sim: Simulator;
let body: Buffer;

async function newImportUrl(target: Simulator): Promise<string> {
  const mailbox = target.tenant.mailbox(upn);
  const answer = await fetch(
    `${target.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}/createImportSession`,
    { method: 'POST', headers: { Authorization: `Bearer ${target.demoToken}` } },
  );
  return ((await answer.json()) as { importUrl: string }).importUrl;
}

/** Sends `data` with the framing given, and answers the status. */
function post(url: string, headers: Record<string, string>, data: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers } });
    sent.on('response', (answer) => {
      answer.resume();
      resolve(answer.statusCode ?? 0);
    });
    sent.on('error', reject);
    sent.end(data);
  });
}

/** Declares more bytes than it sends, then ends its side: answers the status line that came back. */
function postShort(url: string, data: Buffer, declared: number): Promise<string> {
  const target = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(target.port), target.hostname);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(received).toString('latin1').split('\r\n')[0] ?? ''));
    socket.write(
      `POST ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${declared}\r\nConnection: close\r\n\r\n`,
    );
    socket.end(data);
  });
}

beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn, items: 3 }] }, { ...RAW_HTTP, importBodyLimitBytes: LIMIT });
  const item = [...sim.tenant.mailbox(upn).items.values()][0]!;
  const data = Buffer.concat([...generatePayload(item.spec, sim.tenant.integrityKey)]);
  body = Buffer.from(JSON.stringify({ FolderId: 'inbox', Mode: 'create', Data: data.toString('base64') }));
  expect(body.length).toBeLessThan(LIMIT);
});
afterAll(() => sim.close());

describe('the import POST, strict by default', () => {
  it('refuses a chunked body with 411, and takes the same body with its Content-Length', async () => {
    const url = await newImportUrl(sim);
    const counters = sim.throttle.countersFor(sim.tenant.mailbox(upn).id);
    expect(await post(url, { 'Transfer-Encoding': 'chunked' }, body)).toBe(411);
    expect(counters.importedItems).toBe(0);
    expect(await post(url, { 'Content-Length': String(body.length) }, body)).toBe(200);
    expect(counters.importedItems).toBe(1);
  });

  it('refuses a body over the limit with 413, before reading it', async () => {
    const url = await newImportUrl(sim);
    const counters = sim.throttle.countersFor(sim.tenant.mailbox(upn).id);
    const before = counters.importedItems;
    const padded = Buffer.concat([body.subarray(0, -1), Buffer.from(`,"Pad":"${'x'.repeat(LIMIT)}"}`)]);
    expect(await post(url, { 'Content-Length': String(padded.length) }, padded)).toBe(413);
    expect(counters.importedItems).toBe(before);
  });

  it('refuses, and does not import, a body shorter than its Content-Length', async () => {
    const url = await newImportUrl(sim);
    const counters = sim.throttle.countersFor(sim.tenant.mailbox(upn).id);
    const before = counters.importedItems;
    const statusLine = await postShort(url, body, body.length + 10);
    // Node's parser answers it, as the body ends before its declared length (the handler would refuse it too).
    expect(statusLine).toMatch(/^HTTP\/1\.1 400 /);
    expect(counters.importedItems).toBe(before);
    expect(await post(url, { 'Content-Length': String(body.length) }, body)).toBe(200);
  });

  it('answers an expired session 401 by default, and 404 when told to', async () => {
    const url = await newImportUrl(sim);
    sim.expireImportSessions();
    expect(await post(url, { 'Content-Length': String(body.length) }, body)).toBe(401);
    const lenient = await startSeededSimulator(
      { mailboxes: [{ upn, items: 1 }] },
      { ...RAW_HTTP, expiredImportSessionStatus: 404 },
    );
    try {
      const gone = await newImportUrl(lenient);
      lenient.expireImportSessions();
      expect(await post(gone, { 'Content-Length': String(body.length) }, body)).toBe(404);
      expect(await post(gone, { 'Content-Length': String(body.length) }, body)).toBe(404); // and stays gone
    } finally {
      await lenient.close();
    }
  });
});
