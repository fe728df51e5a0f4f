import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../local/simulator/index.js';
import { RAW_HTTP, startSeededSimulator } from '../support/graph.js';

/**
 * Exchange keeps only a few sync-state generations per delta collection; the simulator keeps the last
 * `deltaGenerationsKept` (3 by default) and refuses a round from an older deltaLink as Graph does. Raw HTTP, so
 * the envelope is what a client would see.
 */
const upn = 'ines@contoso.example';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function get(sim: Simulator, url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${sim.demoToken}` } });
  return { status: response.status, body: await response.json() };
}

function mailboxUrl(sim: Simulator, path: string): string {
  return `${sim.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(sim.tenant.mailbox(upn).id)}/${path}`;
}

/** A whole round from `url` (a collection's delta URL or a stored deltaLink); returns its deltaLink. */
async function round(sim: Simulator, url: string): Promise<string> {
  let next = url;
  for (;;) {
    const { status, body } = await get(sim, next);
    expect(status).toBe(200);
    if (body['@odata.deltaLink']) return body['@odata.deltaLink'] as string;
    next = body['@odata.nextLink'] as string;
  }
}

describe('delta sync states, strict by default', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSeededSimulator({ mailboxes: [{ upn, items: 30 }] }, RAW_HTTP);
  });
  afterAll(() => sim.close());

  it('keeps a deltaLink while fewer than 3 newer rounds of its folder started, then answers 410 SyncStateNotFound', async () => {
    expect(sim.options.deltaGenerationsKept).toBe(3);
    const inboxDelta = mailboxUrl(
      sim,
      `folders/${encodeURIComponent(sim.tenant.mailbox(upn).folderByIdOrName('inbox')!.id)}/items/delta`,
    );
    const sentDelta = mailboxUrl(sim, 'folders/sentitems/items/delta');
    const stored = await round(sim, inboxDelta);
    // Rounds of another collection do not age this one.
    for (let i = 0; i < 5; i++) await round(sim, sentDelta);
    await round(sim, inboxDelta);
    await round(sim, inboxDelta);
    const stillGood = await round(sim, stored); // the third round after it: stored is the oldest kept
    const expired = await get(sim, stored);
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe('SyncStateNotFound');
    expect(expired.body.error.innerError['request-id']).toEqual(expect.any(String));
    // The newest link goes on working; a refused one started no round.
    expect((await get(sim, stillGood)).status).toBe(200);
  });

  it('ages the folder hierarchy’s delta the same way', async () => {
    const foldersDelta = mailboxUrl(sim, 'folders/delta');
    const stored = await round(sim, foldersDelta);
    for (let i = 0; i < 3; i++) await round(sim, foldersDelta);
    const expired = await get(sim, stored);
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe('SyncStateNotFound');
  });

  it('answers an item delta over quota with 403 ErrorQuotaExceeded, per folder or mailbox, while plain listing works', async () => {
    const archiveDelta = mailboxUrl(sim, 'folders/archive/items/delta');
    const inboxDelta = mailboxUrl(sim, 'folders/inbox/items/delta');
    sim.exceedDeltaQuota(upn, 'archive');
    const refused = await get(sim, archiveDelta);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('ErrorQuotaExceeded');
    expect((await get(sim, mailboxUrl(sim, 'folders/archive/items'))).status).toBe(200);
    expect((await get(sim, inboxDelta)).status).toBe(200);
    sim.exceedDeltaQuota(upn);
    expect((await get(sim, inboxDelta)).status).toBe(403);
    sim.exceedDeltaQuota(upn, undefined, false);
    sim.exceedDeltaQuota(upn, 'archive', false);
    expect((await get(sim, archiveDelta)).status).toBe(200);
  });
});

describe('delta sync states, lenient on request', () => {
  it('keeps every generation with deltaGenerationsKept: Infinity', async () => {
    const sim = await startSeededSimulator(
      { mailboxes: [{ upn, items: 5 }] },
      { ...RAW_HTTP, deltaGenerationsKept: Infinity },
    );
    try {
      const inboxDelta = mailboxUrl(sim, 'folders/inbox/items/delta');
      const stored = await round(sim, inboxDelta);
      for (let i = 0; i < 6; i++) await round(sim, inboxDelta);
      expect((await get(sim, stored)).status).toBe(200);
    } finally {
      await sim.close();
    }
  });
});
