import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GraphRequestError, ImportLengthMismatchError, type MailboxClient } from '../../shared/graph/index.js';
import { ImportBody } from '../../shared/graph/importBody.js';
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
