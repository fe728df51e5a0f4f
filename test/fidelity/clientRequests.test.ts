import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { ExtendedProperty } from '../../shared/graph/index.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, collect, readAll, startSeededSimulator } from '../support/graph.js';
import { OpenApiSubset } from '../support/openapi.js';

/**
 * The client's requests, and the simulator's answers to them, checked against the OpenAPI subset rebuilt from
 * Graph's metadata: every Graph call our flows make must be a declared operation with declared query options
 * and a valid body. Recorded by a proxy in front of the simulator, so what is checked is what goes on the wire
 * (the client sends with fetch and with node:http).
 */

interface Recorded {
  method: string;
  url: URL;
  body: string | undefined;
  status: number;
  response: unknown;
}

let sim: Simulator;
let proxy: Server;
let proxyUrl: string;
const recorded: Recorded[] = [];

async function readWhole(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

beforeAll(async () => {
  sim = await startSeededSimulator({ mailboxes: [{ upn: 'casey@contoso.example', items: 40 }] });
  proxy = createServer((request, response) => {
    void (async () => {
      const body = await readWhole(request);
      const target = new URL(request.url!, sim.baseUrl);
      const headers = { ...request.headers, host: target.host };
      delete headers['transfer-encoding'];
      headers['content-length'] = String(body.length);
      const answer = await new Promise<IncomingMessage>((resolve, reject) =>
        httpRequest(target, { method: request.method, headers }, resolve).on('error', reject).end(body),
      );
      let text = await readWhole(answer);
      const isExport = target.pathname.endsWith('/exportItems');
      // Links in answers (next pages, delta, import URLs) must lead back through the proxy.
      if (!isExport && text.length) text = Buffer.from(text.toString('utf8').replaceAll(sim.baseUrl, proxyUrl));
      recorded.push({
        method: request.method!,
        url: target,
        body: body.length && !target.pathname.startsWith('/outlook/') ? body.toString('utf8') : undefined,
        status: answer.statusCode!,
        // Export bodies are streamed by the client; re-parse only the small ones.
        response: isExport || !text.length ? undefined : (JSON.parse(text.toString('utf8')) as unknown),
      });
      const { 'content-length': _length, 'transfer-encoding': _encoding, ...answerHeaders } = answer.headers;
      response.writeHead(answer.statusCode!, { ...answerHeaders, 'content-length': String(text.length) });
      response.end(text);
    })().catch((error: unknown) => response.destroy(error as Error));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => proxy.close(resolve));
  await sim.close();
});

describe("the client's Graph requests", () => {
  it('are declared operations with declared query options and valid bodies', async () => {
    const { client } = clientFor(sim, { pageSize: 7, baseUrl: proxyUrl });
    const { primaryMailboxId: mailbox } = await client.getMailboxIds('casey@contoso.example');
    const folders = await collect(client.listFolderChanges(mailbox));
    await collect(client.listFolders(mailbox));
    const inbox = await client.getFolder(mailbox, 'inbox');
    await collect(client.listFolders(mailbox, { parentFolderId: inbox.id }));
    const items = await collect(
      client.listItems(mailbox, inbox.id, {
        extendedProperties: Object.values(ExtendedProperty),
        filter: 'createdDateTime ge 2020-01-01T00:00:00Z',
      }),
    );
    const pages = await collect(client.listItemChanges(mailbox, inbox.id));
    await collect(client.listItemChanges(mailbox, inbox.id, { deltaLink: pages.at(-1)!.deltaLink! }));
    await client.getItem(mailbox, inbox.id, items[0]!.id, { extendedProperties: [ExtendedProperty.searchKey] });
    let bytes: Buffer = Buffer.alloc(0);
    for await (const item of client.exportItems(
      mailbox,
      items.slice(0, 3).map((i) => i.id),
    )) {
      const data = await readAll(item.data!);
      if (!bytes.length) bytes = data;
    }
    const session = await client.createImportSession(mailbox);
    await client.importItem(session, {
      folderId: inbox.id,
      length: bytes.length,
      openData: () => Readable.from([bytes]),
    });
    await client.createFolder(mailbox, { displayName: 'Restored items', type: 'IPF.Note' });
    expect(folders.length).toBeGreaterThan(0);

    const v1 = new OpenApiSubset('v1.0');
    const beta = new OpenApiSubset('beta');
    const graphCalls = recorded.filter((r) => /^\/(v1\.0|beta)\//.test(r.url.pathname));
    expect(new Set(graphCalls.map((r) => r.url.pathname.split('/').slice(-1)[0])).size).toBeGreaterThan(5);
    const problems: string[] = [];
    for (const call of graphCalls) {
      const version = call.url.pathname.startsWith('/beta/') ? 'beta' : 'v1.0';
      // Matched encoded, segment by segment: an id's '/' must stay %2F inside its segment.
      const path = call.url.pathname.replace(/^\/(v1\.0|beta)/, '');
      // Folder creation is documented for v1.0 but declared only in the beta metadata (SOURCES.md §3).
      const spec = version === 'beta' || (call.method === 'POST' && /\/(folders|childFolders)$/.test(path)) ? beta : v1;
      const label = `${call.method} ${version}${path}`;
      if (!spec.find(call.method, path)) {
        problems.push(`${label}: not a declared operation`);
        continue;
      }
      const declared = spec.queryParameters(call.method, path);
      for (const name of call.url.searchParams.keys()) {
        // Paging and delta tokens come back inside Graph's own links.
        if (['$skiptoken', '$deltatoken'].includes(name)) continue;
        if (!declared.includes(name)) problems.push(`${label}: query option ${name} is not declared`);
      }
      if (call.body)
        for (const p of spec.validateRequestBody(call.method, path, JSON.parse(call.body)))
          problems.push(`${label} request: ${p}`);
      if (call.response !== undefined)
        for (const p of spec.validateResponse(call.method, path, call.status, call.response))
          problems.push(`${label} response: ${p}`);
    }
    expect(problems).toEqual([]);
    // The pre-authenticated import POST is Outlook's, outside Graph's metadata (and streamed over node:http).
    expect(sim.throttle.countersFor(mailbox).importedItems).toBe(1);
  });
});
