import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  GraphRequestError,
  ImportLengthMismatchError,
  ImportSessionExpiredError,
  type MailboxClient,
} from '../../shared/graph/index.js';
import { ImportBody } from '../../shared/graph/importBody.js';
import { ImportSessionCache, renewalMarginInMs } from '../../shared/restore/sessions.js';
import { generatePayload } from '../../local/simulator/payload.js';
import type { Simulator } from '../../local/simulator/index.js';
import type { SimItem } from '../../local/simulator/tenant.js';
import { clientFor, readAll, startSeededSimulator } from '../support/graph.js';

/**
 * The client against the strict import endpoint: every import POST declares its exact length (a chunked one
 * gets 411), an expired session answered 404 is renewed like a 401, and sessions are renewed ahead of expiry
 * by the smaller of 5 minutes and a quarter of their lifetime.
 */

const SOURCE = 'source@contoso.example';
const TARGET = 'target@contoso.example';
const MINUTE = 60_000;
let sim: Simulator;
let client: MailboxClient;
let targetId: string;

function bytesOf(target: Simulator, item: SimItem): Buffer {
  return Buffer.concat([...generatePayload(item.spec, target.tenant.integrityKey)]);
}

beforeAll(async () => {
  sim = await startSeededSimulator({
    mailboxes: [
      { upn: SOURCE, items: 30 },
      { upn: TARGET, items: 0 },
    ],
  });
  ({ client } = clientFor(sim));
  targetId = (await client.getMailboxIds(TARGET)).primaryMailboxId;
});
afterAll(() => sim.close());

describe('the import body', () => {
  it('is exactly as long as it declares, whatever the data length and however the folder id is escaped', async () => {
    for (const folderId of ['inbox', 'Отчёты "2026" \\ \t\u0001 😀']) {
      for (const length of [0, 1, 2, 3, 4, 5, 1000, 65_537]) {
        const data = Buffer.alloc(length, 7);
        const body = new ImportBody({ folderId, length, openData: () => Readable.from([data]) });
        const sent = await readAll(body.open());
        expect(sent.length, `${folderId} ${length}`).toBe(body.contentLength);
        expect(JSON.parse(sent.toString('utf8'))).toEqual({
          FolderId: folderId,
          Mode: 'create',
          Data: data.toString('base64'),
        });
      }
    }
  });
});

describe('imports with a Content-Length', () => {
  it('arrive byte for byte, for data lengths of every remainder by 3', async () => {
    const inbox = await client.getFolder(targetId, 'inbox');
    const session = await client.createImportSession(targetId);
    const items = [...sim.tenant.mailbox(SOURCE).items.values()];
    for (const remainder of [0, 1, 2]) {
      const source = items.find((item) => bytesOf(sim, item).length % 3 === remainder)!;
      const bytes = bytesOf(sim, source);
      const imported = await client.importItem(session, {
        folderId: inbox.id,
        length: bytes.length,
        openData: () => Readable.from([bytes.subarray(0, 777), bytes.subarray(777)]),
      });
      const created = sim.tenant.mailbox(targetId).items.get(imported.itemId)!;
      expect(created.importedDigest).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(sim.tenant.digest(created)).toBe(sim.tenant.digest(source));
    }
  });

  it('reach the server whole with an escaped, non-ASCII folder id: its 404 is the folder, not the session', async () => {
    const bytes = bytesOf(sim, [...sim.tenant.mailbox(SOURCE).items.values()][0]!);
    const session = await client.createImportSession(targetId);
    const attempt = client.importItem(session, {
      folderId: 'Отчёты "2026" \\ 😀',
      length: bytes.length,
      openData: () => Readable.from([bytes]),
    });
    await expect(attempt).rejects.toBeInstanceOf(GraphRequestError);
    await expect(attempt).rejects.toMatchObject({ status: 404, code: 'ErrorFolderNotFound' });
  });

  it('abort, importing nothing, when the data is shorter or longer than declared', async () => {
    const bytes = bytesOf(sim, [...sim.tenant.mailbox(SOURCE).items.values()][1]!);
    const session = await client.createImportSession(targetId);
    const before = sim.tenant.mailbox(targetId).items.size;
    for (const length of [bytes.length + 1, bytes.length - 1]) {
      await expect(
        client.importItem(session, { folderId: 'inbox', length, openData: () => Readable.from([bytes]) }),
      ).rejects.toBeInstanceOf(ImportLengthMismatchError);
    }
    expect(sim.tenant.mailbox(targetId).items.size).toBe(before);
  });
});

describe('an expired session answered 404', () => {
  it('is renewed, and the item imported once', async () => {
    const gone = await startSeededSimulator(
      { mailboxes: [{ upn: TARGET, items: 0 }] },
      { expiredImportSessionStatus: 404 },
    );
    try {
      const { client: goneClient } = clientFor(gone);
      const id = (await goneClient.getMailboxIds(TARGET)).primaryMailboxId;
      const cache = new ImportSessionCache(goneClient);
      const bytes = bytesOf(sim, [...sim.tenant.mailbox(SOURCE).items.values()][2]!);
      const request = { folderId: 'inbox', length: bytes.length, openData: () => Readable.from([bytes]) };
      const first = await cache.get(id);
      gone.expireImportSessions();
      // What an import batch does: a refused session is dropped from the cache, and the item posted again.
      const refused = await goneClient.importItem(first, request).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ImportSessionExpiredError);
      expect(refused).toMatchObject({ status: 404 });
      cache.invalidate(first);
      const second = await cache.get(id);
      expect(second).not.toBe(first);
      const imported = await goneClient.importItem(second, request);
      const counters = gone.throttle.countersFor(id);
      expect([counters.importedItems, gone.tenant.mailbox(id).items.size, cache.renewals]).toEqual([1, 1, 1]);
      expect(gone.tenant.mailbox(id).items.get(imported.itemId)!.importedDigest).toBe(
        createHash('sha256').update(bytes).digest('hex'),
      );
    } finally {
      await gone.close();
    }
  });
});

describe('session renewal ahead of expiry', () => {
  it('is the smaller of 5 minutes and a quarter of the lifetime', () => {
    expect(renewalMarginInMs(0, 60 * MINUTE)).toBe(5 * MINUTE);
    expect(renewalMarginInMs(0, 20 * MINUTE)).toBe(5 * MINUTE);
    expect(renewalMarginInMs(0, 8 * MINUTE)).toBe(2 * MINUTE);
    expect(renewalMarginInMs(1000, 500)).toBe(0);
  });

  /** The cache's session at `before` ms ahead of expiry, then at `after`; how many sessions were created. */
  async function sessionsUsed(lifetimeMs: number, before: number, after: number) {
    const target = await startSeededSimulator(
      { mailboxes: [{ upn: TARGET, items: 0 }] },
      { importSessionLifetimeMs: lifetimeMs },
    );
    try {
      const { client: targetClient } = clientFor(target);
      const id = (await targetClient.getMailboxIds(TARGET)).primaryMailboxId;
      const clock = { now: Date.now() };
      const cache = new ImportSessionCache(targetClient, () => clock.now);
      const first = await cache.get(id);
      const expiresAt = first.expiresAt.getTime();
      clock.now = expiresAt - before;
      const kept = (await cache.get(id)) === first;
      clock.now = expiresAt - after;
      const renewed = (await cache.get(id)) !== first;
      return {
        kept,
        renewed,
        created: target.throttle.countersFor(id).requests.createImportSession,
        renewals: cache.renewals,
      };
    } finally {
      await target.close();
    }
  }

  it('keeps a 40-minute session until 5 minutes before it expires', async () => {
    expect(await sessionsUsed(40 * MINUTE, 5.5 * MINUTE, 4.5 * MINUTE)).toEqual({
      kept: true,
      renewed: true,
      created: 2,
      renewals: 1,
    });
  });

  it('keeps an 8-minute session until 2 minutes before it expires (not 5)', async () => {
    expect(await sessionsUsed(8 * MINUTE, 2.5 * MINUTE, 1.5 * MINUTE)).toEqual({
      kept: true,
      renewed: true,
      created: 2,
      renewals: 1,
    });
  });
});
