import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../local/simulator/index.js';
import { DEFAULT_SLOT_HOLD_MS } from '../../local/simulator/state.js';
import { ExtendedProperty } from '../../shared/graph/index.js';
import { clientFor, startSeededSimulator } from '../support/graph.js';

/**
 * Item delta refuses `$expand` unless a test asks otherwise, and `$batch` runs each request as if sent alone:
 * raw HTTP, so the envelope is what a client would see; then the client's batched item reads against it.
 */
const upn = 'ines@contoso.example';
const SEARCH_KEY_EXPAND = `singleValueExtendedProperties($filter=id eq '${ExtendedProperty.searchKey}')`;

async function call(
  sim: Simulator,
  method: string,
  url: string,
  body?: unknown,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${sim.demoToken}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: await response.json() };
}

function mailboxPath(sim: Simulator, path: string): string {
  return `/admin/exchange/mailboxes/${encodeURIComponent(sim.tenant.mailbox(upn).id)}/${path}`;
}

function itemDeltaUrl(sim: Simulator, query: string): string {
  return `${sim.baseUrl}/v1.0${mailboxPath(sim, 'folders/inbox/items/delta')}?${query}`;
}

describe('$expand on item delta', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSeededSimulator({ mailboxes: [{ upn, items: 10 }] });
  });
  afterAll(() => sim.close());

  it('is refused by default, as Exchange refuses options change tracking does not support', async () => {
    const refused = await call(sim, 'GET', itemDeltaUrl(sim, `$expand=${SEARCH_KEY_EXPAND}`));
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('ErrorInvalidUrlQuery');
    expect(refused.body.error.message).toMatch(/\$expand/);
    expect((await call(sim, 'GET', itemDeltaUrl(sim, '$select=id'))).status).toBe(400);
  });

  it('is dropped when ignored and obeyed when honoured', async () => {
    sim.options.deltaExpand = 'ignore';
    const ignored = await call(sim, 'GET', itemDeltaUrl(sim, `$expand=${SEARCH_KEY_EXPAND}`));
    expect(ignored.status).toBe(200);
    expect(ignored.body.value[0].singleValueExtendedProperties).toBeUndefined();
    sim.options.deltaExpand = 'honour';
    const honoured = await call(sim, 'GET', itemDeltaUrl(sim, `$expand=${SEARCH_KEY_EXPAND}`));
    expect(honoured.body.value[0].singleValueExtendedProperties).toHaveLength(1);
    sim.options.deltaExpand = 'reject';
  });
});

describe('$batch', () => {
  let sim: Simulator;
  let itemPaths: string[];
  beforeAll(async () => {
    sim = await startSeededSimulator({ mailboxes: [{ upn, items: 30 }] }, { latencyMs: 5 });
    const mailbox = sim.tenant.mailbox(upn);
    itemPaths = [...mailbox.items.values()].map((item) =>
      mailboxPath(sim, `folders/${item.folderId}/items/${encodeURIComponent(item.id)}?$expand=${SEARCH_KEY_EXPAND}`),
    );
  });
  afterAll(() => sim.close());

  const batchUrl = () => `${sim.baseUrl}/v1.0/$batch`;

  it('refuses more than 20 requests and duplicate ids, as Graph does', async () => {
    const tooMany = itemPaths.slice(0, 21).map((url, i) => ({ id: String(i), method: 'GET', url }));
    expect((await call(sim, 'POST', batchUrl(), { requests: tooMany })).status).toBe(400);
    const twice = [0, 0].map((i) => ({ id: String(i), method: 'GET', url: itemPaths[i] }));
    expect((await call(sim, 'POST', batchUrl(), { requests: twice })).status).toBe(400);
  });

  it('runs a dependsOn chain one request at a time, and answers 424 after a failed dependency', async () => {
    const counters = sim.throttle.countersFor(sim.tenant.mailbox(upn).id);
    counters.maxInFlight = 0;
    // Slots freed at each answer's end, so that the count shows one request at a time (a held slot would overlap).
    sim.options.concurrencySlotHoldMs = 0;
    const chain = itemPaths.slice(0, 5).map((url, i) => ({
      id: String(i),
      method: 'GET',
      url: i === 2 ? mailboxPath(sim, 'folders/inbox/items/no-such-item') : url,
      ...(i > 0 ? { dependsOn: [String(i - 1)] } : {}),
    }));
    const { status, body } = await call(sim, 'POST', batchUrl(), { requests: chain });
    expect(status).toBe(200);
    const statuses = Object.fromEntries(body.responses.map((r: { id: string; status: number }) => [r.id, r.status]));
    expect(statuses).toEqual({ 0: 200, 1: 200, 2: 404, 3: 424, 4: 424 });
    expect(counters.maxInFlight).toBe(1);
    sim.options.concurrencySlotHoldMs = DEFAULT_SLOT_HOLD_MS;
  });

  it('throttles each request as if sent alone; the client asks again for the throttled ones and gets them all', async () => {
    const { client } = clientFor(sim);
    const mailbox = sim.tenant.mailbox(upn);
    sim.script({ operation: 'getItem', fault: 'http429', times: 3, retryAfterSeconds: 0 });
    const refs = [...mailbox.items.values()].map(({ id, folderId }) => ({ id, folderId }));
    const { items, missing } = await client.getItems(mailbox.id, refs, {
      extendedProperties: [ExtendedProperty.searchKey],
    });
    expect(missing).toEqual([]);
    expect(items.size).toBe(refs.length);
    for (const [id, item] of items)
      expect(item.singleValueExtendedProperties?.[0]?.value).toBe(
        mailbox.items.get(id)!.spec.searchKey.toString('base64'),
      );
  });
});
