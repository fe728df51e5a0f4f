/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read raw wire JSON */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { simulatorOptionsFromEnv } from '../../local/simulator/env.js';
import { generatePayload, PayloadVerifier } from '../../local/simulator/payload.js';
import { SimulatorTokenCredential, type Simulator } from '../../local/simulator/index.js';
import { startSeededSimulator } from '../support/graph.js';

let sim: Simulator;
const upn = 'jordan@contoso.example';
let mailboxId: string;
let auth: Record<string, string>;

async function graph(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${sim.baseUrl}/v1.0${path}`, {
    method,
    headers: { ...auth, ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Record<string, any>) : undefined,
  };
}

const mbx = () => `/admin/exchange/mailboxes/${encodeURIComponent(mailboxId)}`;

async function exportRaw(ids: string[]) {
  return graph('POST', `${mbx()}/exportItems`, { itemIds: ids });
}

async function importRaw(importUrl: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(importUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? (JSON.parse(text) as Record<string, any>) : undefined,
  };
}

beforeAll(async () => {
  sim = await startSeededSimulator(
    {
      mailboxes: [
        { upn, items: 30 },
        { upn: 'target@contoso.example', items: 0 },
      ],
    },
    { clients: [{ clientId: 'app', clientSecret: 's3cret' }] },
  );
  auth = { Authorization: `Bearer ${sim.demoToken}` };
  mailboxId = sim.tenant.mailbox(upn).id;
});
afterAll(() => sim.close());

describe('authentication', () => {
  it('answers 401 without a bearer token, in the Graph error envelope', async () => {
    const response = await fetch(`${sim.baseUrl}/v1.0${mbx()}/folders`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      error: { code: 'InvalidAuthenticationToken', innerError: { 'request-id': expect.any(String) } },
    });
  });

  it('issues tokens to known clients through the client-credentials endpoint', async () => {
    const credential = new SimulatorTokenCredential(sim.baseUrl, sim.tenant.tenantId, 'app', 's3cret');
    const token = await credential.getToken('https://graph.microsoft.com/.default');
    const ok = await fetch(`${sim.baseUrl}/v1.0${mbx()}/folders`, {
      headers: { Authorization: `Bearer ${token.token}` },
    });
    expect(ok.status).toBe(200);
    await expect(
      new SimulatorTokenCredential(sim.baseUrl, sim.tenant.tenantId, 'app', 'wrong').getToken('x'),
    ).rejects.toThrow(/invalid_client/);
  });
});

describe('limits', () => {
  it('answers a fifth concurrent request on a mailbox with 429 ApplicationThrottled and Retry-After', async () => {
    sim.setLatency(150);
    const results = await Promise.all(Array.from({ length: 6 }, () => graph('GET', `${mbx()}/folders/inbox`)));
    sim.setLatency(0);
    const throttled = results.filter((r) => r.status === 429);
    expect(results.filter((r) => r.status === 200)).toHaveLength(4);
    expect(throttled).toHaveLength(2);
    expect(throttled[0]!.body!.error.code).toBe('ApplicationThrottled');
    expect(throttled[0]!.body!.error.message).toMatch(/MailboxConcurrency/);
    expect(Number(throttled[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The counter sees the attempt that went over: four in flight plus the one turned away.
    expect(sim.throttle.countersFor(mailboxId).maxInFlight).toBe(5);
  });

  it('enforces a request budget per mailbox per window', async () => {
    const small = await startSeededSimulator(
      { mailboxes: [{ upn: 'b@contoso.example', items: 1 }] },
      { limits: { requestBudget: { requests: 3, windowMs: 60_000 } } },
    );
    try {
      const id = encodeURIComponent(small.tenant.mailbox('b@contoso.example').id);
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`${small.baseUrl}/v1.0/admin/exchange/mailboxes/${id}/folders/inbox`, {
          headers: { Authorization: `Bearer ${small.demoToken}` },
        });
        statuses.push(r.status);
        if (r.status === 429) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(50);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await small.close();
    }
  });

  it('enforces an upload byte budget on imports (429 IncomingBytes)', async () => {
    const small = await startSeededSimulator(
      { mailboxes: [{ upn: 'c@contoso.example', items: 3 }] },
      { limits: { uploadBudget: { bytes: 1000, windowMs: 60_000 } } },
    );
    try {
      const mailbox = small.tenant.mailbox('c@contoso.example');
      const item = [...mailbox.items.values()][0]!;
      const data = Buffer.concat([...generatePayload(item.spec, small.tenant.integrityKey)]).toString('base64');
      const session = (await (
        await fetch(
          `${small.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}/createImportSession`,
          { method: 'POST', headers: { Authorization: `Bearer ${small.demoToken}` } },
        )
      ).json()) as { importUrl: string };
      const body = JSON.stringify({ FolderId: 'inbox', Mode: 'create', Data: data });
      const first = await fetch(session.importUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      expect(first.status).toBe(200);
      const second = await fetch(session.importUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      expect(second.status).toBe(429);
      expect(((await second.json()) as any).error.message).toMatch(/IncomingBytes/);
    } finally {
      await small.close();
    }
  });
});

describe('export and import', () => {
  it('exports deterministic streams carrying the search key, larger than the reported size', async () => {
    const items = [...sim.tenant.mailbox(upn).items.values()].slice(0, 5);
    const first = await exportRaw(items.map((i) => i.id));
    const second = await exportRaw(items.map((i) => i.id));
    const byId = (r: typeof first) => new Map((r.body!.value as any[]).map((v) => [v.itemId, v.data as string]));
    for (const item of items) {
      const data = Buffer.from(byId(first).get(item.id)!, 'base64');
      expect(byId(second).get(item.id)).toBe(byId(first).get(item.id));
      expect(data.length).toBeGreaterThan(item.size);
      expect(data.includes(item.spec.searchKey)).toBe(true);
      expect(createHash('sha256').update(data).digest('hex')).toBe(sim.tenant.digest(item));
    }
  });

  it('imports into another mailbox: same search key, bytes verified, new id', async () => {
    const source = [...sim.tenant.mailbox(upn).items.values()][3]!;
    const data = (await exportRaw([source.id])).body!.value[0].data as string;
    const target = sim.tenant.mailbox('target@contoso.example');
    const session = await graph(
      'POST',
      `/admin/exchange/mailboxes/${encodeURIComponent(target.id)}/createImportSession`,
    );
    expect(session.status).toBe(200);
    expect(session.body!.importUrl).toMatch(/\/importItem\?authtoken=/);
    expect(session.body!.expirationDateTime).toMatch(/\.\d{7}Z$/);
    const imported = await importRaw(session.body!.importUrl, { FolderId: 'inbox', Mode: 'create', Data: data });
    expect(imported.status).toBe(200);
    const created = target.items.get(imported.body!.itemId)!;
    expect(created.spec.searchKey.equals(source.spec.searchKey)).toBe(true);
    expect(created.id).not.toBe(source.id);
    // The search key is what Graph shows back through the extended property.
    const listed = await graph(
      'GET',
      `/admin/exchange/mailboxes/${encodeURIComponent(target.id)}/folders/inbox/items?$expand=singleValueExtendedProperties($filter=id eq 'Binary 0x300B')`,
    );
    const match = (listed.body!.value as any[]).find((i) => i.id === created.id);
    expect(match.singleValueExtendedProperties[0].value).toBe(source.spec.searchKey.toString('base64'));
    // Re-exporting the imported item gives back the very same bytes.
    const back = await graph('POST', `/admin/exchange/mailboxes/${encodeURIComponent(target.id)}/exportItems`, {
      itemIds: [created.id],
    });
    expect(back.body!.value[0].data).toBe(data);
  });

  it('rejects changed, truncated or foreign data, and bad modes', async () => {
    const source = [...sim.tenant.mailbox(upn).items.values()][4]!;
    const data = Buffer.from((await exportRaw([source.id])).body!.value[0].data as string, 'base64');
    const session = (await graph('POST', `${mbx()}/createImportSession`)).body!;
    const flipped = Buffer.from(data);
    flipped[100] = flipped[100]! ^ 0xff;
    const tries = [
      { FolderId: 'inbox', Mode: 'create', Data: flipped.toString('base64') },
      { FolderId: 'inbox', Mode: 'create', Data: data.subarray(0, data.length - 10).toString('base64') },
      {
        FolderId: 'inbox',
        Mode: 'create',
        Data: Buffer.from('not an item stream at all, just text').toString('base64'),
      },
    ];
    for (const body of tries) {
      const result = await importRaw(session.importUrl, body);
      expect(result.status).toBe(400);
      expect(result.body!.error.code).toBe('ErrorCorruptData');
    }
    expect(
      (
        await importRaw(session.importUrl, {
          FolderId: 'inbox',
          Mode: 'create',
          ItemId: 'x',
          Data: data.toString('base64'),
        })
      ).status,
    ).toBe(400);
    expect(
      (await importRaw(session.importUrl, { FolderId: 'inbox', Mode: 'merge', Data: data.toString('base64') })).status,
    ).toBe(400);
    expect(
      (
        await importRaw(session.importUrl, {
          FolderId: 'AQMkADnothere=',
          Mode: 'create',
          Data: data.toString('base64'),
        })
      ).status,
    ).toBe(404);
    expect(
      (await importRaw(session.importUrl, { FolderId: 'inbox', Mode: 'create', Data: data.toString('base64') }, auth))
        .status,
    ).toBe(400);
  });

  it('expires import sessions after their lifetime', async () => {
    const short = await startSeededSimulator(
      { mailboxes: [{ upn: 'd@contoso.example', items: 1 }] },
      { importSessionLifetimeMs: 50 },
    );
    try {
      const mailbox = short.tenant.mailbox('d@contoso.example');
      const item = [...mailbox.items.values()][0]!;
      const data = Buffer.concat([...generatePayload(item.spec, short.tenant.integrityKey)]).toString('base64');
      const session = (await (
        await fetch(
          `${short.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(mailbox.id)}/createImportSession`,
          { method: 'POST', headers: { Authorization: `Bearer ${short.demoToken}` } },
        )
      ).json()) as { importUrl: string };
      await new Promise((r) => setTimeout(r, 80));
      const late = await fetch(session.importUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ FolderId: 'inbox', Mode: 'create', Data: data }),
      });
      expect(late.status).toBe(401);
    } finally {
      await short.close();
    }
  });

  it('verifies a stream chunk by chunk with the same verdict as whole', () => {
    const item = [...sim.tenant.mailbox(upn).items.values()][0]!;
    const bytes = Buffer.concat([...generatePayload(item.spec, sim.tenant.integrityKey)]);
    const verifier = new PayloadVerifier(sim.tenant.integrityKey);
    for (let i = 0; i < bytes.length; i += 7) verifier.update(bytes.subarray(i, i + 7));
    const { spec, digest } = verifier.finish();
    expect(spec.subject).toBe(item.spec.subject);
    expect(digest).toBe(sim.tenant.digest(item));
  });
});

describe('control API', () => {
  it('adds, changes, moves and deletes items, and shows mailboxes with content digests', async () => {
    const control = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(`${sim.baseUrl}/_sim${path}`, {
        method,
        headers: { 'Content-Type': 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    };
    const before = (await control('GET', `/mailboxes/${upn}`)).body;
    const added = (
      await control('POST', `/mailboxes/${upn}/items`, { folder: 'Inbox/Projects', count: 2, subject: 'Added by test' })
    ).body;
    expect(added).toHaveLength(2);
    const changed = (
      await control('PATCH', `/mailboxes/${upn}/items/${encodeURIComponent(added[0].id)}`, { subject: 'Changed' })
    ).body;
    expect(changed.changeKey).not.toBe(added[0].changeKey);
    const moved = (
      await control('POST', `/mailboxes/${upn}/items/${encodeURIComponent(added[1].id)}/move`, { folder: 'archive' })
    ).body;
    expect(moved.id).not.toBe(added[1].id);
    expect((await control('DELETE', `/mailboxes/${upn}/items/${encodeURIComponent(added[0].id)}`)).status).toBe(204);
    const after = (await control('GET', `/mailboxes/${upn}`)).body;
    expect(after.items.length).toBe(before.items.length + 1);
    const movedItem = after.items.find((i: any) => i.id === moved.id);
    expect(movedItem.folderPath).toBe('Archive');
    expect(movedItem.digest).toMatch(/^[0-9a-f]{64}$/);
    const stats = (await control('GET', '/stats')).body;
    expect(stats[mailboxId].requests).toBeDefined();
  });
});

describe('standalone', () => {
  it('reads every option from SIM_* variables and names a bad one', () => {
    const options = simulatorOptionsFromEnv({
      SIM_PORT: '0',
      SIM_LATENCY_MS: '25',
      SIM_FAULT_503: '0.1',
      SIM_TENANT: 'empty',
    });
    expect(options).toMatchObject({ port: 0, latencyMs: 25, faults: { http503: 0.1 } });
    expect(() => simulatorOptionsFromEnv({ SIM_FAULT_DROP: '2' })).toThrow(/SIM_FAULT_DROP/);
    expect(() => simulatorOptionsFromEnv({ SIM_TENANT: 'huge' })).toThrow(/SIM_TENANT/);
  });
});
