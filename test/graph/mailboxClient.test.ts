import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import events from 'node:events';
import { Readable, Transform } from 'node:stream';
import type { MailboxClient } from '../../shared/graph/index.js';
import { MailboxLimiter } from '../../shared/graph/mailboxLimiter.js';
import {
  DeltaLinkRejectedError,
  ExportStreamError,
  ExtendedProperty,
  GraphRequestError,
  GraphRetriesExhaustedError,
  ImportOutcomeUnknownError,
  ImportSessionExpiredError,
  MailboxNotFoundError,
  type ExportedItem,
  type MailboxItem,
} from '../../shared/graph/index.js';
import { generatePayload } from '../../local/simulator/payload.js';
import { NO_FAULTS } from '../../local/simulator/throttle.js';
import type { Simulator } from '../../local/simulator/index.js';
import { DEFAULT_SLOT_HOLD_MS } from '../../local/simulator/state.js';
import { clientFor, collect, readAll, startSeededSimulator } from '../support/graph.js';

let sim: Simulator;
let client: MailboxClient;
const upn = 'alex@contoso.example';
let mailboxId: string;

function expectedBytes(itemId: string): Buffer {
  const item = sim.tenant.mailbox(upn).items.get(itemId)!;
  return Buffer.concat([...generatePayload(item.spec, sim.tenant.integrityKey)]);
}

beforeAll(async () => {
  sim = await startSeededSimulator({
    mailboxes: [
      { upn, items: 120, largeItems: [3_000_000] },
      { upn: 'shared-inbox@contoso.example', kind: 'shared', items: 10 },
    ],
    usersWithoutMailbox: ['printer@contoso.example'],
  });
  ({ client } = clientFor(sim, { pageSize: 25 }));
  mailboxId = (await client.getMailboxIds(upn)).primaryMailboxId;
});

afterAll(() => sim.close());

afterEach(() => {
  sim.throttle.scripted = [];
  sim.setFaults(NO_FAULTS);
});

describe('mailbox ids', () => {
  it('resolves primary and shared mailboxes by UPN', async () => {
    expect(mailboxId).toBe(sim.tenant.mailbox(upn).id);
    const shared = await client.getMailboxIds('shared-inbox@contoso.example');
    expect(shared.primaryMailboxId).toMatch(/^MBX:[0-9a-f-]+@/);
  });

  it('reports users without a mailbox, and unknown users, as MailboxNotFoundError', async () => {
    await expect(client.getMailboxIds('printer@contoso.example')).rejects.toBeInstanceOf(MailboxNotFoundError);
    await expect(client.getMailboxIds('nobody@contoso.example')).rejects.toMatchObject({
      name: 'MailboxNotFoundError',
      status: 404,
    });
  });
});

describe('listings and paging', () => {
  it('pages through every item of a folder with $top/$skip nextLinks', async () => {
    const inbox = sim.tenant.mailbox(upn).folderByIdOrName('inbox')!;
    const expected = sim.tenant
      .mailbox(upn)
      .itemsIn(inbox.id)
      .map((i) => i.id)
      .sort();
    expect(expected.length).toBeGreaterThan(25); // more than one page
    const items = await collect(client.listItems(mailboxId, 'inbox'));
    expect(items.map((i) => i.id).sort()).toEqual(expected);
    expect(sim.throttle.countersFor(mailboxId).requests.listItems).toBeGreaterThanOrEqual(
      Math.ceil(expected.length / 25),
    );
  });

  it('expands subject, sender, received time and search key', async () => {
    const [item] = await collect(
      client.listItems(mailboxId, 'inbox', { extendedProperties: Object.values(ExtendedProperty) }),
    );
    const props = Object.fromEntries(item!.singleValueExtendedProperties!.map((p) => [p.id, p.value]));
    const sim_ = sim.tenant.mailbox(upn).items.get(item!.id)!;
    expect(props[ExtendedProperty.subject]).toBe(sim_.spec.subject);
    expect(props[ExtendedProperty.senderEmail]).toBe(sim_.spec.senderEmail);
    expect(props[ExtendedProperty.receivedTime]).toBe(sim_.spec.receivedDateTime);
    expect(Buffer.from(props[ExtendedProperty.searchKey]!, 'base64').equals(sim_.spec.searchKey)).toBe(true);
  });

  it('filters items by created date', async () => {
    const all = await collect(client.listItems(mailboxId, 'inbox'));
    const sorted = all.map((i) => i.createdDateTime!).sort();
    const cut = sorted[Math.floor(sorted.length / 2)]!;
    const newer = await collect(client.listItems(mailboxId, 'inbox', { filter: `createdDateTime ge ${cut}` }));
    expect(newer.length).toBe(sorted.filter((d) => d >= cut).length);
  });

  it('lists child folders, including unicode names', async () => {
    const inbox = await client.getFolder(mailboxId, 'inbox');
    const children = await collect(client.listFolders(mailboxId, { parentFolderId: inbox.id }));
    expect(children.map((f) => f.displayName)).toEqual(
      expect.arrayContaining(['Отчёты', '会議メモ', 'emoji 📁 folder', 'a/b slash? no: colon']),
    );
  });
});

describe('delta rounds', () => {
  async function round(folderId: string, deltaLink?: string) {
    const changed: MailboxItem[] = [];
    const removed: string[] = [];
    let link: string | undefined;
    for await (const page of client.listItemChanges(mailboxId, folderId, { deltaLink })) {
      changed.push(...page.changed);
      removed.push(...page.removed.map((r) => r.id));
      link = page.deltaLink ?? link;
    }
    return { changed, removed, deltaLink: link! };
  }

  it('enumerates in full, then reports only additions, changes, moves and removals', async () => {
    const tenant = sim.tenant;
    const mailbox = tenant.mailbox(upn);
    const folder = tenant.ensureFolderPath(mailbox, 'Inbox/Delta test');
    const seeded = Array.from({ length: 60 }, () => tenant.addItem(mailbox, folder.id));
    const first = await round(folder.id);
    expect(first.changed.map((i) => i.id).sort()).toEqual(seeded.map((i) => i.id).sort());
    expect(first.removed).toEqual([]);
    expect(first.deltaLink).toMatch(/(\$|%24)deltatoken=/);

    const unchanged = await round(folder.id, first.deltaLink);
    expect(unchanged.changed).toEqual([]);
    expect(unchanged.removed).toEqual([]);

    const added = tenant.addItem(mailbox, folder.id);
    const edited = tenant.changeItem(mailbox, seeded[0]!.id);
    tenant.deleteItem(mailbox, seeded[1]!.id);
    const moved = tenant.moveItem(mailbox, seeded[2]!.id, 'archive');
    const second = await round(folder.id, unchanged.deltaLink);
    expect(second.changed.map((i) => i.id).sort()).toEqual([added.id, edited.id].sort());
    expect(second.changed.find((i) => i.id === edited.id)!.changeKey).toBe(edited.changeKey);
    expect(second.removed.sort()).toEqual([seeded[1]!.id, seeded[2]!.id].sort());
    expect(moved.id).not.toBe(seeded[2]!.id);
  });

  it('reports a rejected delta link as DeltaLinkRejectedError', async () => {
    const first = await round('sentitems');
    sim.invalidateDeltaTokens(upn);
    await expect(round('sentitems', first.deltaLink)).rejects.toBeInstanceOf(DeltaLinkRejectedError);
  });

  it('walks the folder hierarchy with folder delta, removals included', async () => {
    const pages = await collect(client.listFolderChanges(mailboxId));
    const names = pages.flatMap((p) => p.changed.map((f) => f.displayName));
    expect(names).toEqual(expect.arrayContaining(['Inbox', 'Projects', 'Größe', 'Suppliers']));
    const link = pages.at(-1)!.deltaLink!;
    const mailbox = sim.tenant.mailbox(upn);
    const doomed = sim.tenant.ensureFolderPath(mailbox, 'Inbox/Doomed');
    const mid = await collect(client.listFolderChanges(mailboxId, { deltaLink: link }));
    expect(mid.flatMap((p) => p.changed.map((f) => f.id))).toEqual([doomed.id]);
    sim.tenant.deleteFolder(mailbox, doomed.id);
    const after = await collect(client.listFolderChanges(mailboxId, { deltaLink: mid.at(-1)!.deltaLink }));
    expect(after.flatMap((p) => p.removed.map((r) => r.id))).toEqual([doomed.id]);
  });
});

describe('exportItems', () => {
  async function exportAll(ids: string[]) {
    const out: Array<{ item: ExportedItem; bytes?: Buffer }> = [];
    for await (const item of client.exportItems(mailboxId, ids)) {
      out.push({ item, bytes: item.data ? await readAll(item.data) : undefined });
    }
    return out;
  }

  it('streams each item byte for byte, matched by id whatever the order', async () => {
    const ids = [...sim.tenant.mailbox(upn).items.keys()].slice(0, 20);
    const result = await exportAll(ids);
    expect(result.map((r) => r.item.itemId).sort()).toEqual([...ids].sort());
    for (const { item, bytes } of result) {
      expect(item.error).toBeUndefined();
      expect(bytes!.equals(expectedBytes(item.itemId))).toBe(true);
      expect(item.changeKey).toBe(sim.tenant.mailbox(upn).items.get(item.itemId)!.changeKey);
    }
  });

  it('refuses more than 20 ids before calling Graph, and the simulator answers 400 to them', async () => {
    const ids = [...sim.tenant.mailbox(upn).items.keys()].slice(0, 21);
    await expect(collect(client.exportItems(mailboxId, ids))).rejects.toBeInstanceOf(RangeError);
    const response = await fetch(
      `${sim.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(mailboxId)}/exportItems`,
      {
        method: 'POST',
        headers: { Authorization: `Bearer ${sim.demoToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ itemIds: ids }),
      },
    );
    expect(response.status).toBe(400);
  });

  it('returns per-item errors inside a 200, and names items Graph left out', async () => {
    const ids = [...sim.tenant.mailbox(upn).items.keys()].slice(20, 26);
    sim.script({ fault: 'itemError', operation: 'exportItems', itemIds: [ids[0]!] });
    const mailbox = sim.tenant.mailbox(upn);
    mailbox.items.get(ids[1]!)!.exportErrorCode = 'ErrorCorruptItem';
    const result = await exportAll([...ids, 'AAMkADdoesnotexist=']);
    mailbox.items.get(ids[1]!)!.exportErrorCode = undefined;
    const byId = new Map(result.map((r) => [r.item.itemId, r.item]));
    expect(byId.get(ids[0]!)!.error?.code).toBe('ErrorExportFailed');
    expect(byId.get(ids[1]!)!.error?.code).toBe('ErrorCorruptItem');
    expect(byId.get('AAMkADdoesnotexist=')!.error?.code).toBe('ErrorItemNotFound');
    expect(result.filter((r) => r.bytes).length).toBe(4);

    sim.setFaults({ exportItemOmitted: 1 });
    const omitted = await exportAll(ids.slice(2, 4));
    expect(omitted.map((r) => r.item.error?.code)).toEqual(['NotReturned', 'NotReturned']);
  });

  it('hands a small item over whole, its bytes and its stream alike', async () => {
    const small = [...sim.tenant.mailbox(upn).items.values()].find((i) => !i.spec.subject.startsWith('Large'))!;
    const [item] = await collect(client.exportItems(mailboxId, [small.id]));
    expect(item!.bytes?.equals(expectedBytes(small.id))).toBe(true);
    expect((await readAll(item!.data!)).equals(expectedBytes(small.id))).toBe(true);
  });

  it('ends the call and gives its permit back when the reader leaves after the first of several items', async () => {
    // Items of about 100 KB: the first is taken while the next ones are already decoded and waiting to be taken.
    const own = await startSeededSimulator({ mailboxes: [{ upn, items: 20 }] });
    try {
      // One request per mailbox: a call left waiting for its unread items would hold the next one back for ever.
      const { client: single } = clientFor(own, { maxConcurrentRequestsPerMailbox: 1 });
      const id = (await single.getMailboxIds(upn)).primaryMailboxId;
      const ids = [...own.tenant.mailbox(upn).items.keys()].slice(0, 3);
      for (const attempt of [1, 2]) {
        let first: Buffer | undefined;
        for await (const item of single.exportItems(id, ids)) {
          first = await readAll(item.data!);
          break;
        }
        expect(first!.length, `attempt ${attempt}`).toBeGreaterThan(0);
      }
    } finally {
      await own.close();
    }
  }, 10_000);

  it('streams a large item with bounded memory', async () => {
    const large = [...sim.tenant.mailbox(upn).items.values()].find((i) => i.spec.subject.startsWith('Large'))!;
    const hash = createHash('sha256');
    let length = 0;
    for await (const item of client.exportItems(mailboxId, [large.id])) {
      expect(item.bytes).toBeUndefined(); // over the size handed over whole: a stream only
      for await (const chunk of item.data!) {
        hash.update(chunk);
        length += chunk.length;
      }
    }
    expect(length).toBeGreaterThan(3_000_000 - 100);
    expect(hash.digest('hex')).toBe(sim.tenant.digest(large));
  });

  it('waits for a slow reader of a large item without piling up listeners', async () => {
    const large = [...sim.tenant.mailbox(upn).items.values()].find((i) => i.spec.subject.startsWith('Large'))!;
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    // Signals made from here on warn at a fourth listener: a wait that leaves its listener behind shows at once.
    const defaultMax = events.defaultMaxListeners;
    events.defaultMaxListeners = 3;
    try {
      let length = 0;
      for await (const item of client.exportItems(mailboxId, [large.id])) {
        for await (const chunk of item.data!) {
          length += (chunk as Buffer).length;
          await new Promise((resolve) => setTimeout(resolve, 10)); // much slower than loopback: the reader holds it back
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
      expect(length).toBe(expectedBytes(large.id).length);
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      events.defaultMaxListeners = defaultMax;
      process.off('warning', onWarning);
    }
  });

  it('throws ExportStreamError when the body is cut short, keeping items that arrived whole', async () => {
    const ids = [...sim.tenant.mailbox(upn).items.keys()].slice(30, 40);
    sim.script({ fault: 'truncate', operation: 'exportItems' });
    const whole: string[] = [];
    const run = async () => {
      for await (const item of client.exportItems(mailboxId, ids)) {
        if (item.data) {
          await readAll(item.data);
          whole.push(item.itemId);
        }
      }
    };
    await expect(run()).rejects.toBeInstanceOf(ExportStreamError);
    for (const id of whole) expect(expectedBytes(id).length).toBeGreaterThan(0);
  });
});

describe('faults and throttling', () => {
  it('waits out a 429 with Retry-After, then succeeds', async () => {
    sim.script({ fault: 'http429', operation: 'getFolder', retryAfterSeconds: 1 });
    // The schedule, not the wall clock: the mailbox is paused for the Retry-After (the pause itself: retry.test.ts).
    const paused = vi.spyOn(MailboxLimiter.prototype, 'onThrottled');
    const folder = await client.getFolder(mailboxId, 'inbox');
    expect(folder.displayName).toBe('Inbox');
    expect(paused).toHaveBeenCalledWith(mailboxId, 1_000);
    paused.mockRestore();
    expect(client.throttleStats(mailboxId).throttledResponses).toBeGreaterThanOrEqual(1);
  });

  it('counts a 429 against the call that got it, not against calls running beside it on the same mailbox', async () => {
    const { client: fresh } = clientFor(sim);
    const ids = [...sim.tenant.mailbox(upn).items.keys()];
    sim.script({ fault: 'http429', operation: 'exportItems', times: 1, retryAfterSeconds: 1 });
    const tallies = [0, 1].map(() => ({ throttledResponses: 0, throttleWaitInMs: 0 }));
    // The first call gets the 429; the second starts once it has, so it runs into the mailbox's pause.
    const first = collect(fresh.exportItems(mailboxId, ids.slice(0, 2), { tally: tallies[0] }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = collect(fresh.exportItems(mailboxId, ids.slice(2, 4), { tally: tallies[1] }));
    await Promise.all([first, second]);
    expect(tallies[0]!.throttledResponses).toBe(1);
    expect(tallies[1]!.throttledResponses).toBe(0);
    expect(tallies[0]!.throttleWaitInMs).toBeGreaterThan(500);
    expect(fresh.throttleStats(mailboxId).throttledResponses).toBe(1);
  });

  it('rides out a 503/504 storm with backoff', async () => {
    sim.script(
      { fault: 'http503', operation: 'listItems', times: 3 },
      { fault: 'http504', operation: 'listItems', times: 2 },
    );
    const items = await collect(client.listItems(mailboxId, 'drafts'));
    expect(items.length).toBe(
      sim.tenant.mailbox(upn).itemsIn(sim.tenant.mailbox(upn).folderByIdOrName('drafts')!.id).length,
    );
    expect(sim.throttle.scripted).toEqual([]);
  });

  it('survives dropped connections', async () => {
    sim.script({ fault: 'drop', operation: 'exportItems', times: 2 });
    const id = [...sim.tenant.mailbox(upn).items.keys()][50]!;
    const received: Buffer[] = [];
    for await (const item of client.exportItems(mailboxId, [id])) received.push(await readAll(item.data!));
    expect(received).toHaveLength(1);
    expect(received[0]!.equals(expectedBytes(id))).toBe(true);
  });

  it('gives up with GraphRetriesExhaustedError when the storm does not end', async () => {
    const { client: impatient } = clientFor(sim, { retry: { maxRetries: 2, baseDelayInMs: 1, maxDelayInMs: 2 } });
    sim.script({ fault: 'http503', operation: 'getFolder', times: 5 });
    await expect(impatient.getFolder(mailboxId, 'inbox')).rejects.toBeInstanceOf(GraphRetriesExhaustedError);
  });

  it('refreshes the token once on 401', async () => {
    const { client: fresh, credential } = clientFor(sim);
    await fresh.getFolder(mailboxId, 'inbox');
    sim.revokeTokens();
    await fresh.getFolder(mailboxId, 'inbox');
    expect(credential.calls).toBe(2);
  });

  it('makes other 4xx final and typed', async () => {
    await expect(client.getFolder(mailboxId, 'AQMkADnosuchfolder=')).rejects.toMatchObject({
      name: 'GraphRequestError',
      status: 404,
      code: 'ErrorItemNotFound',
    });
    await expect(client.getFolder(mailboxId, 'AQMkADnosuchfolder=')).rejects.toBeInstanceOf(GraphRequestError);
  });

  it('never has more than 4 requests in flight for one mailbox', async () => {
    const { client } = clientFor(sim);
    // Long enough that four calls certainly overlap, even on a busy machine. The simulator frees each slot at the
    // answer's end here: this is about our cap, and a loaded machine may see a held slot outlast ours
    // (slotHold.test.ts is about the hold).
    sim.setLatency(200);
    sim.options.concurrencySlotHoldMs = 0;
    // Slots the tests before still hold (a few ms after their answers) are freed first.
    while (sim.throttle.countersFor(mailboxId).inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    sim.throttle.resetCounters();
    const ids = [...sim.tenant.mailbox(upn).items.keys()].slice(0, 100);
    const batches = Array.from({ length: 10 }, (_, i) => ids.slice(i * 10, i * 10 + 10));
    await Promise.all(
      batches.map(async (batch) => {
        for await (const item of client.exportItems(mailboxId, batch)) if (item.data) await readAll(item.data);
      }),
    );
    sim.setLatency(0);
    sim.options.concurrencySlotHoldMs = DEFAULT_SLOT_HOLD_MS;
    const counters = sim.throttle.countersFor(mailboxId);
    expect(counters.exportCalls).toBe(10);
    expect(counters.maxInFlight).toBe(4);
    expect(counters.throttled).toBe(0);
  });

  it('honours an AbortSignal', async () => {
    sim.setLatency(500);
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('cancelled by test')), 50);
    await expect(client.getFolder(mailboxId, 'inbox', { signal: abort.signal })).rejects.toThrow('cancelled by test');
    sim.setLatency(0);
  });
});

describe('import', () => {
  const exportBytes = async (id: string) => {
    for await (const item of client.exportItems(mailboxId, [id])) {
      const bytes = await readAll(item.data!);
      return bytes;
    }
    throw new Error('not exported');
  };

  it('imports an exported stream into another mailbox with the same search key and bytes', async () => {
    const source = [...sim.tenant.mailbox(upn).items.values()][5]!;
    const bytes = await exportBytes(source.id);
    const target = await client.getMailboxIds('shared-inbox@contoso.example');
    const session = await client.createImportSession(target.primaryMailboxId);
    expect(JSON.stringify(session)).not.toMatch(/authtoken/);
    const targetInbox = await client.getFolder(target.primaryMailboxId, 'inbox');
    const imported = await client.importItem(session, {
      folderId: targetInbox.id,
      length: bytes.length,
      openData: () => Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
    });
    const created = sim.tenant.mailbox(target.primaryMailboxId).items.get(imported.itemId)!;
    expect(created.spec.searchKey.equals(source.spec.searchKey)).toBe(true);
    expect(created.importedDigest).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(sim.tenant.digest(created)).toBe(sim.tenant.digest(source));
  });

  it('updates an item in update mode', async () => {
    const source = [...sim.tenant.mailbox(upn).items.values()][6]!;
    const bytes = await exportBytes(source.id);
    const session = await client.createImportSession(mailboxId);
    const inbox = await client.getFolder(mailboxId, 'inbox');
    const created = await client.importItem(session, {
      folderId: inbox.id,
      length: bytes.length,
      openData: () => Readable.from([bytes]),
    });
    const updated = await client.importItem(session, {
      folderId: inbox.id,
      mode: 'update',
      itemId: created.itemId,
      changeKey: created.changeKey,
      length: bytes.length,
      openData: () => Readable.from([bytes]),
    });
    expect(updated.itemId).toBe(created.itemId);
    expect(updated.changeKey).not.toBe(created.changeKey);
  });

  it('is rejected when a byte was changed', async () => {
    const bytes = Buffer.from(await exportBytes([...sim.tenant.mailbox(upn).items.keys()][7]!));
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = bytes[middle]! ^ 0x01;
    const session = await client.createImportSession(mailboxId);
    await expect(
      client.importItem(session, { folderId: 'inbox', length: bytes.length, openData: () => Readable.from([bytes]) }),
    ).rejects.toMatchObject({ status: 400, code: 'ErrorCorruptData' });
  });

  it('aborts the POST, importing nothing, when the data stream fails part-way (checksum mismatch)', async () => {
    const bytes = await exportBytes([...sim.tenant.mailbox(upn).items.keys()][8]!);
    const before = sim.tenant.mailbox(upn).items.size;
    const session = await client.createImportSession(mailboxId);
    // Passes the first 2000 bytes, then fails the way a SHA-256 check does at the end of a damaged blob.
    const failing = () => {
      let seen = 0;
      return Readable.from([bytes.subarray(0, 2000), bytes.subarray(2000)]).pipe(
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            seen += chunk.length;
            if (seen > 2000) callback(new Error('sha256 mismatch'));
            else callback(null, chunk);
          },
        }),
      );
    };
    await expect(
      client.importItem(session, { folderId: 'inbox', length: bytes.length, openData: failing }),
    ).rejects.toThrow();
    expect(sim.tenant.mailbox(upn).items.size).toBe(before);
  });

  it('reports an expired session as ImportSessionExpiredError', async () => {
    const bytes = await exportBytes([...sim.tenant.mailbox(upn).items.keys()][9]!);
    const session = await client.createImportSession(mailboxId);
    sim.expireImportSessions();
    await expect(
      client.importItem(session, { folderId: 'inbox', length: bytes.length, openData: () => Readable.from([bytes]) }),
    ).rejects.toBeInstanceOf(ImportSessionExpiredError);
  });

  it('reports a lost answer as ImportOutcomeUnknownError (the item may exist)', async () => {
    const bytes = await exportBytes([...sim.tenant.mailbox(upn).items.keys()][10]!);
    const session = await client.createImportSession(mailboxId);
    const before = sim.tenant.mailbox(upn).items.size;
    sim.script({ fault: 'loseImportResponse', operation: 'importItem' });
    await expect(
      client.importItem(session, { folderId: 'inbox', length: bytes.length, openData: () => Readable.from([bytes]) }),
    ).rejects.toBeInstanceOf(ImportOutcomeUnknownError);
    expect(sim.tenant.mailbox(upn).items.size).toBe(before + 1);
  });

  it('waits out an upload-budget 429 and then imports', async () => {
    const bytes = await exportBytes([...sim.tenant.mailbox(upn).items.keys()][11]!);
    const session = await client.createImportSession(mailboxId);
    sim.script({ fault: 'http429', operation: 'importItem', retryAfterSeconds: 1 });
    const imported = await client.importItem(session, {
      folderId: 'inbox',
      length: bytes.length,
      openData: () => Readable.from([bytes]),
    });
    expect(imported.itemId).toBeTruthy();
  });

  it('creates folders, falling back to beta when v1.0 refuses', async () => {
    const folder = await client.createFolder(mailboxId, { displayName: 'Restored 2026-11-23', type: 'IPF.Note' });
    expect(folder.displayName).toBe('Restored 2026-11-23');
    const child = await client.createFolder(mailboxId, {
      displayName: 'Отчёты',
      type: 'IPF.Note',
      parentFolderId: folder.id,
    });
    expect(sim.tenant.mailbox(upn).folderPath(child.id)).toBe('Restored 2026-11-23/Отчёты');
    const strict = await startSeededSimulator(
      { mailboxes: [{ upn: 'x@contoso.example', items: 0 }] },
      { rejectV1FolderCreate: true },
    );
    try {
      const { client: strictClient } = clientFor(strict);
      const id = (await strictClient.getMailboxIds('x@contoso.example')).primaryMailboxId;
      const created = await strictClient.createFolder(id, { displayName: 'Via beta', type: 'IPF.Note' });
      expect(created.displayName).toBe('Via beta');
      expect(strict.throttle.countersFor(id).requests.createFolder).toBe(2);
    } finally {
      await strict.close();
    }
  });
});
