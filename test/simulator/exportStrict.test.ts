/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read raw wire JSON */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../local/simulator/index.js';
import { RAW_HTTP, startSeededSimulator } from '../support/graph.js';

let sim: Simulator;
const upn = 'robin@contoso.example';
/** Any two items together are over it, and one item alone is too (single items are never refused for size). */
const LIMIT = 100_000;

beforeAll(async () => {
  sim = await startSeededSimulator(
    { mailboxes: [{ upn, items: 6, sizes: [200_000, 200_000] }] },
    {
      ...RAW_HTTP,
      maxExportResponseBytes: LIMIT,
    },
  );
});
afterAll(() => sim.close());

const ids = () => [...sim.tenant.mailbox(upn).items.keys()];
const exportCalls = () => sim.throttle.countersFor(sim.tenant.mailbox(upn).id).exportCalls;

async function exportRaw(body: unknown) {
  const mailboxId = sim.tenant.mailbox(upn).id;
  const response = await fetch(
    `${sim.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(mailboxId)}/exportItems`,
    {
      method: 'POST',
      headers: { Authorization: `Bearer ${sim.demoToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    },
  );
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as Record<string, any> };
}

describe('exportItems, as strict as Graph', () => {
  it('answers a multi-item export over the response limit with a 504 GatewayTimeout, a single item never', async () => {
    const before = exportCalls();
    const batch = await exportRaw({ itemIds: ids().slice(0, 2) });
    expect(batch.status).toBe(504);
    expect(batch.body.error.code).toBe('GatewayTimeout');
    const single = await exportRaw({ itemIds: ids().slice(0, 1) });
    expect(single.status).toBe(200);
    expect(Buffer.byteLength(single.text)).toBeGreaterThan(LIMIT);
    expect(exportCalls() - before).toBe(2);
  });

  it('sends its headers with the body’s exact length, known before the first byte', async () => {
    const item = sim.tenant.mailbox(upn).items.get(ids()[2]!)!;
    const answer = await exportRaw({ itemIds: [item.id] });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('transfer-encoding')).toBeNull();
    expect(Number(answer.headers.get('content-length'))).toBe(Buffer.byteLength(answer.text));
    const data = (answer.body.value as any[]).find((entry) => entry.itemId === item.id).data as string;
    expect(Buffer.from(data, 'base64').length).toBe(sim.tenant.exportedLength(item));
  });

  it('refuses the whole call for an id asked twice or a malformed id (400 ErrorInvalidIdMalformed)', async () => {
    const [first] = ids();
    for (const itemIds of [
      [first, first],
      [first, 'not an id!'],
    ]) {
      const answer = await exportRaw({ itemIds });
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('ErrorInvalidIdMalformed');
      expect(answer.body.error.message).toBeTruthy();
    }
  });

  it('reads itemIds and ItemIds, and no other spelling', async () => {
    expect((await exportRaw({ ItemIds: ['AAMkADnotthere='] })).status).toBe(200);
    expect((await exportRaw({ itemIds: ['AAMkADnotthere='] })).status).toBe(200);
    const other = await exportRaw({ itemids: ['AAMkADnotthere='] });
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe('ErrorInvalidRequest');
  });

  it('spells every second per-item error key `Error`, as Graph has', async () => {
    const answer = await exportRaw({ itemIds: ['AAMkADmissing1=', 'AAMkADmissing2=', 'AAMkADmissing3='] });
    const keys = (answer.body.value as any[]).map((entry) =>
      Object.keys(entry).find((k) => k.toLowerCase() === 'error'),
    );
    expect(keys).toEqual(['error', 'Error', 'error']);
  });
});
