/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read raw wire JSON */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  addArchive,
  addAuxiliaryArchive,
  expandFolder,
  startSimulator,
  SimTenant,
  type Simulator,
} from '../../local/simulator/index.js';
import { RAW_HTTP } from '../support/graph.js';

/**
 * Fidelity: the examples of Graph's "Handle archive mailbox redirects" page (kept in test/fixtures/graph with
 * their source) replayed against the simulator, on a tenant holding exactly the mailboxes and ids they name.
 */

interface ArchiveExample {
  name: string;
  request: { method: string; url: string; headers: Record<string, string>; body: unknown };
  response: { status: number; headers: Record<string, string>; body: any };
  follow_up?: { method: string; url: string };
}

const examples = JSON.parse(
  readFileSync(new URL('../fixtures/graph/archive-redirect-examples.json', import.meta.url), 'utf8'),
) as ArchiveExample[];
const example = (name: string) => examples.find((e) => e.name === name)!;

const ARCHIVE = 'MBX:e0643f21@a7809c93';
const EXPANDED_FOLDER = 'AAMkAGExpandedFolder=';

/** The archive the page's examples address, with the auxiliary mailboxes and items they name. */
function archiveTenant(): SimTenant {
  const tenant = new SimTenant({ seed: 5 });
  const docsArchive = addArchive(tenant, tenant.addMailbox('megan@contoso.com'), ARCHIVE);
  const auxiliary = (id: string) => addAuxiliaryArchive(tenant, docsArchive, id);
  const root = docsArchive.rootFolderId;
  const folder = (id: string) => tenant.addFolder(docsArchive, root, `Folder ${id.slice(0, 8)}`, 'IPF.Note', id);
  folder('NJWt2LeVEAAAIBDAAAAA==');
  expandFolder(docsArchive, 'NJWt2LeVEAAAIBDAAAAA==', auxiliary('MBX:767fh867@a7809c93'));
  tenant.addItem(docsArchive, folder('AAMkAGOwnFolder=').id, { id: 'AAMkADHGHGDDDSSAFDHGJ' });
  const moved = folder('AAMkAGMovedFolder=');
  tenant.addItem(docsArchive, moved.id, { id: 'AQMkADVmZgBkYzA2OSADDSG' });
  expandFolder(
    docsArchive,
    moved.id,
    auxiliary('MBX:5ffdc069-c31e-43fa-9542-eaf862ce18c0@601eaae7-815e-4d2e-9e48-109351d094ab'),
  );
  folder(EXPANDED_FOLDER);
  expandFolder(docsArchive, EXPANDED_FOLDER, auxiliary('MBX:f10964a6-4fd0-4f74-8@4d2e-9e48-109351d094ab'));
  return tenant;
}

let sim: Simulator;

beforeAll(async () => {
  // The page spells the per-item error key `Error`.
  sim = await startSimulator({ ...RAW_HTTP, tenant: archiveTenant(), exportErrorKey: 'Error' });
});
afterAll(() => sim.close());

/** A docs URL on the simulator: same version, path and query. */
function onSimulator(url: string): string {
  const source = new URL(url);
  return `${sim.baseUrl}${source.pathname}${source.search}`;
}

async function send(method: string, url: string, headers: Record<string, string>, body: unknown) {
  const response = await fetch(url, {
    method,
    redirect: 'manual',
    headers: { Authorization: `Bearer ${sim.demoToken}`, ...headers },
    body: body === null ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** A URL's path, as Graph compares it: without regard to case. */
const pathOf = (url: string) => decodeURIComponent(new URL(url).pathname).toLowerCase();

describe("the archive redirect page's examples replayed against the simulator", () => {
  it('Example 1: a folder in an auxiliary archive answers 308 with its Location, which answers 200', async () => {
    const { request, response, follow_up } = example('archive_redirect_folder');
    const answer = await send(request.method, onSimulator(request.url), request.headers, request.body);
    expect(answer.status).toBe(response.status);
    expect(answer.headers.get('content-length')).toBe(response.headers['Content-Length']);
    expect(pathOf(answer.headers.get('location')!)).toBe(pathOf(response.headers.Location!));
    const followed = await send(follow_up!.method, answer.headers.get('location')!, {}, null);
    expect(followed.status).toBe(200);
    expect(followed.body.id).toBe('NJWt2LeVEAAAIBDAAAAA==');
  });

  it('Example 2: exportItems answers an item of an auxiliary archive with the error naming its exportItems URL', async () => {
    const { request, response } = example('archive_redirect_export_items');
    const answer = await send(request.method, onSimulator(request.url), request.headers, request.body);
    expect(answer.status).toBe(response.status);
    const byId = new Map<string, any>(answer.body.value.map((entry: any) => [entry.itemId, entry]));
    for (const expected of response.body.value) {
      const got = byId.get(expected.itemId);
      expect(Object.keys(got).sort()).toEqual(Object.keys(expected).sort());
      if (!expected.Error) continue;
      expect(got.Error.code).toBe(expected.Error.code);
      expect(pathOf(got.Error.message)).toBe(pathOf(expected.Error.message));
    }
  });

  it('Example 3: an import session of the main archive answers 409 naming the mailbox to import into', async () => {
    const { request, response } = example('archive_redirect_import');
    const session = await send(
      'POST',
      `${sim.baseUrl}/beta/admin/exchange/mailboxes/${ARCHIVE}/createImportSession`,
      {},
      null,
    );
    const answer = await fetch(session.body.importUrl, {
      method: 'POST',
      headers: request.headers,
      body: JSON.stringify({ ...(request.body as object), FolderId: EXPANDED_FOLDER }),
    });
    expect(answer.status).toBe(response.status);
    expect(await answer.json()).toEqual(response.body);
  });
});
