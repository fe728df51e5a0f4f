import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, SimTenant, type Simulator } from '../../local/simulator/index.js';
import { RAW_HTTP } from '../support/graph.js';
import { loadDocExamples, OpenApiSubset, type DocExample } from '../support/openapi.js';

/**
 * Fidelity: every example in Microsoft's docs that the simulator can serve is replayed against it, and the
 * simulator must answer with the same status and (at least) the same shape, and validate against the OpenAPI
 * subset rebuilt from Graph's metadata.
 */

const examples = loadDocExamples();

/** Examples the simulator does not replay, and why. */
const NOT_REPLAYED: Record<string, string> = {
  importItemCreateMode:
    "the docs' Data is a truncated sample, not a whole item stream; the simulator rightly rejects it (import is covered by the client tests)",
  importItemUpdateMode: 'same as importItemCreateMode',
};

/** A tenant holding exactly the ids the examples use. */
function fixtureTenant(): SimTenant {
  const tenant = new SimTenant({ seed: 3 });
  const megan = tenant.addMailbox('megan@contoso.com', {
    id: 'MBX:e0643f21@a7809c93',
    rootFolderId: 'NJWt2LeVEAAAIBCAAAAA==',
  });
  const inbox = megan.folderByIdOrName('inbox')!;
  megan.folders.delete(inbox.id);
  inbox.id = 'NJWt2LeVEAAAIBDAAAAA==';
  megan.folders.set(inbox.id, inbox);
  tenant.addFolder(megan, inbox.id, 'Folder_1', 'IPF.Note', 'EDSVrdi3lRAAEvNS16AAA=');
  tenant.addFolder(megan, inbox.id, 'Folder_2', 'IPF.Note', 'EDSVrdi3lRAAEED0yTAAA=');
  tenant.addFolder(megan, megan.rootFolderId, 'Project Calendar', 'IPF.Appointment', 'NJWt2LeVEAAAIBDQAAAA==');
  tenant.addFolder(megan, megan.rootFolderId, 'Inbound', 'IPF.Note', 'AAMkAGUwNjQ4ZyTAAA=');
  for (let i = 1; i <= 4; i++) tenant.addFolder(megan, megan.rootFolderId, `Team ${i}`);
  megan.archiveMailboxId = 'MBX:5ffdc069-c31e-43fa-9542-eaf862ce18c0@601eaae7-815e-4d2e-9e48-109351d094ab';
  // More than one default page ($top 10), as the list examples' nextLinks show.
  for (let i = 0; i < 12; i++) tenant.addItem(megan, inbox.id, { createdDateTime: '2021-09-01T08:00:00Z' });
  for (const id of [
    'EDSVrdi3lRAAE9J-20AAA=',
    'EDSVrdi3lRAAE9J-2zAAA=',
    'EDSVrdi3lRAAE9J-2xAAA=',
    'EDSVrdi3lRAADmpnf1AAA=',
    'EDSVrdi3lRAAD45b7RAAA=',
  ]) {
    tenant.addItem(megan, inbox.id, { id, createdDateTime: '2021-09-15T12:16:38Z', size: 71_133 });
  }
  for (let i = 0; i < 3; i++) tenant.addItem(megan, 'AAMkAGUwNjQ4ZyTAAA=', { size: 75_329 });
  const other = tenant.addMailbox('alex@contoso.com', { id: 'MBX:e0648f21@aab09c93' });
  tenant.addFolder(other, other.rootFolderId, 'Announcements old', 'IPF.Note', 'AAMkAGVmMDEzM');
  tenant.addItem(other, 'AAMkAGVmMDEzM', { id: 'AAMkAGI1AAAoZCfHAAA=' });
  tenant.addItem(other, 'inbox', { id: 'AAMkADk0MzI' });
  return tenant;
}

/**
 * The deletion examples (each run for both versions) take what other examples read: the folder and its item
 * come back, and the item the delete examples name is where its example expects it. The docs soft-delete it
 * from the inbox, then hard-delete the same id from recoverableitemsdeletions.
 */
function putBackWhatDeletesTook(key: string): void {
  const { tenant } = sim;
  const other = tenant.mailbox('MBX:e0648f21@aab09c93');
  if (!other.folder('AAMkAGVmMDEzM'))
    tenant.addFolder(other, other.rootFolderId, 'Announcements old', 'IPF.Note', 'AAMkAGVmMDEzM');
  if (!other.items.has('AAMkAGI1AAAoZCfHAAA=')) tenant.addItem(other, 'AAMkAGVmMDEzM', { id: 'AAMkAGI1AAAoZCfHAAA=' });
  const inbox = other.folderByIdOrName('inbox')!.id;
  const item = other.items.get('AAMkADk0MzI');
  if (item && item.folderId !== inbox && key === 'delete_mailboxitem_softdelete') tenant.deleteItem(other, item.id);
  if (!other.items.has('AAMkADk0MzI')) tenant.addItem(other, inbox, { id: 'AAMkADk0MzI' });
  if (key === 'delete_mailboxitem_harddelete' && other.items.get('AAMkADk0MzI')!.folderId === inbox)
    tenant.softDeleteItem(other, 'AAMkADk0MzI');
}

let sim: Simulator;
const openapi = { 'v1.0': new OpenApiSubset('v1.0'), beta: new OpenApiSubset('beta') };

beforeAll(async () => {
  sim = await startSimulator({ ...RAW_HTTP, tenant: fixtureTenant() });
});
afterAll(() => sim.close());

function exampleKey(example: DocExample): string {
  return example.name.replace(/^mailboxthis\./, '');
}

/** Keys of an object, and of the first element of its `value` array. */
function shape(body: unknown): { top: string[]; element: string[] } {
  const object = (body ?? {}) as Record<string, unknown>;
  const value = Array.isArray(object.value) ? (object.value[0] as Record<string, unknown> | undefined) : undefined;
  return { top: Object.keys(object), element: value ? Object.keys(value) : [] };
}

/** Paging links depend on how much data there is, not on the API's shape. */
const PAGING = new Set(['@odata.nextLink', '@odata.deltaLink']);

const replayed = examples.filter(
  (e) => !NOT_REPLAYED[exampleKey(e)] && new URL(e.request.url).hostname === 'graph.microsoft.com',
);

describe('docs examples replayed against the simulator', () => {
  it('covers every example that is not listed as not replayed, with a reason', () => {
    const skipped = examples.filter((e) => NOT_REPLAYED[exampleKey(e)]);
    expect(replayed.length + skipped.length).toBe(examples.length);
    expect(replayed.length).toBeGreaterThanOrEqual(25);
  });

  it.each(replayed.map((e) => [`${e.version} ${e.name} (${e.page})`, e] as const))('%s', async (_label, example) => {
    putBackWhatDeletesTook(exampleKey(example));
    const source = new URL(example.request.url);
    const path = source.pathname.replace(/^\/(v1\.0|beta)/, '');
    const url = `${sim.baseUrl}/${example.version}${encodeURI(decodeURI(path))}${source.search}`;
    const headers: Record<string, string> = { Authorization: `Bearer ${sim.demoToken}`, ...example.request.headers };
    const body = example.request.body === null ? undefined : JSON.stringify(example.request.body);
    if (body) headers['Content-Type'] = 'application/json';
    delete headers['Content-type'];
    const response = await fetch(url, { method: example.request.method, headers, body });
    const text = await response.text();
    const actual = text ? (JSON.parse(text) as unknown) : null;
    expect(response.status, text).toBe(example.response.status);

    if (example.response.body && typeof example.response.body === 'object') {
      const expected = shape(example.response.body);
      const got = shape(actual);
      for (const key of expected.top) if (!PAGING.has(key)) expect(got.top, `top-level key ${key}`).toContain(key);
      if (expected.top.some((k) => PAGING.has(k))) expect(got.top.some((k) => PAGING.has(k))).toBe(true);
      for (const key of expected.element) expect(got.element, `element key ${key}`).toContain(key);
    }

    // The OpenAPI subset knows Graph's own paths only; folder create/update are in the v1.0 docs but only the
    // beta metadata (reference SOURCES.md §3), so those are checked against beta.
    const spec = openapi[example.version].find(example.request.method, path) ? openapi[example.version] : openapi.beta;
    if (spec.find(example.request.method, path)) {
      expect(spec.validateResponse(example.request.method, path, response.status, actual)).toEqual([]);
    }
  });
});
