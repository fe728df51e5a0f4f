import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  ExtendedProperty,
  ImportOutcomeUnknownError,
  ImportRedirectedError,
  ImportSession,
  ImportSessionExpiredError,
  MAX_REDIRECT_HOPS,
  type MailboxClient,
  type MailboxItem,
  type ThrottleTally,
} from '../../shared/graph/index.js';
import { importBatch } from '../../shared/restore/importBatch.js';
import { RestoreJournal, type ImportIntent, type JournalEntry } from '../../shared/restore/journal.js';
import { ImportSessionCache } from '../../shared/restore/sessions.js';
import type { ImportBatchResult, PlannedImport } from '../../shared/restore/types.js';
import { writeIndexedNdjson } from '../../shared/vault/indexedNdjson.js';
import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { freshVault } from '../support/vault.js';

/**
 * The restore's write-ahead journal and duplicate check, on a vault written directly and a target mailbox
 * faked in memory (quick enough for mutation testing): an intent before every POST, an outcome after, an item
 * with an outcome never posted again, an item whose import may have happened looked for by its search key
 * first, and every item in the batch's result exactly once. Only `importBatch` and `RestoreJournal` are used.
 */

const RESTORE = 'restore-20261123T100000Z-0a1b2c3d';
const TARGET = 'target-mailbox';
const ARCHIVE = 'aux-archive-mailbox';
const FOLDER = 'folder-inbox';
let vault: VaultStore;

/** What the fake target does with one POST, in order; past the script it imports. */
type Step = 'import' | 'lostAnswer' | 'lateCommit' | 'unknown' | 'expired' | 'redirect' | 'refused';

/** A 504 whose item Exchange commits this long after answering (less than the settling time). */
const LATE_COMMIT_MS = 20_000;
const SETTLE_MS = 30_000;
/** The importer's clock, fake: each sleep moves it on and lands the imports Exchange committed late by then. */
let clockNow = 0;
const slept: number[] = [];
let lateCommits: { at: number; land: () => void }[] = [];
const clock = {
  now: () => clockNow,
  sleep: async (ms: number) => {
    slept.push(ms);
    clockNow += ms;
    for (const commit of lateCommits.filter((c) => c.at <= clockNow)) commit.land();
    lateCommits = lateCommits.filter((c) => c.at > clockNow);
  },
};

interface TargetItem {
  id: string;
  folderId: string;
  mailboxId: string;
  searchKey: string;
  /** Graph lists it without a change key. */
  noChangeKey?: boolean;
  createdDateTime?: string;
}

/** The items of the plan, by name; each item's bytes start with its name, so the fake target can tell them apart. */
const items = new Map<string, PlannedImport>();
/** The target mailbox (and its archive) in memory. */
const stored = new Map<string, TargetItem>();
const posts: { name: string; mailboxId: string; intentAttempt: number | undefined }[] = [];
let script: Step[] = [];
let onPost: (name: string) => Promise<void> = async () => undefined;
/** The target's listing refuses to answer (Graph down) while set. */
let listingFails = false;
let listings = 0;
let sessionsCreated = 0;
let sessions: ImportSessionCache;

const keyOfItem = (item: PlannedImport) => item.searchKey ?? `nokey:${item.sourceId}`;

const graph = {
  createImportSession: async (mailboxId: string) =>
    new ImportSession(mailboxId, `https://import.example/${++sessionsCreated}`, new Date(Date.now() + 3_600_000)),
  importItem: async (
    session: ImportSession,
    request: { folderId: string; openData: () => Readable; length: number; tally: ThrottleTally },
  ) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request.openData()) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const name = body.subarray(0, body.indexOf('|')).toString();
    const item = items.get(name)!;
    posts.push({ name, mailboxId: session.mailboxId, intentAttempt: (await intent(item))?.attempt });
    await onPost(name);
    const step = script.shift() ?? 'import';
    if (step === 'expired') throw new ImportSessionExpiredError(401);
    if (step === 'redirect') throw new ImportRedirectedError(ARCHIVE);
    if (step === 'unknown') throw new ImportOutcomeUnknownError('the connection dropped');
    if (step === 'refused') throw Object.assign(new Error('Too big to import'), { name: 'ItemTooLarge' });
    request.tally.throttledResponses += 1;
    request.tally.throttleWaitInMs += 10;
    const id = `new-${stored.size + 1}`;
    const land = () =>
      stored.set(id, { id, folderId: request.folderId, mailboxId: session.mailboxId, searchKey: keyOfItem(item) });
    if (step === 'lateCommit') {
      lateCommits.push({ at: clockNow + LATE_COMMIT_MS, land });
      throw new ImportOutcomeUnknownError('the gateway timed out waiting for Exchange');
    }
    land();
    if (step === 'lostAnswer') throw new ImportOutcomeUnknownError('the answer was lost');
    return { itemId: id, changeKey: `ck-${id}` };
  },
  async *listItems(mailboxId: string, folderId: string, options: { extendedProperties?: string[] }) {
    expect(options.extendedProperties).toContain(ExtendedProperty.searchKey);
    listings++;
    if (listingFails) throw new Error('Graph is down');
    // An item without the property is listed too: only a match on the key counts.
    yield { id: 'unrelated', changeKey: 'x' } satisfies MailboxItem;
    for (const item of stored.values()) {
      if (item.mailboxId !== mailboxId || item.folderId !== folderId) continue;
      yield {
        id: item.id,
        ...(item.noChangeKey ? {} : { changeKey: `ck-${item.id}` }),
        ...(item.createdDateTime ? { createdDateTime: item.createdDateTime } : {}),
        singleValueExtendedProperties: [{ id: ExtendedProperty.searchKey, value: item.searchKey }],
      } satisfies MailboxItem;
    }
  },
} as unknown as MailboxClient;

async function plannedItem(name: string, options: { searchKey?: boolean } = {}): Promise<PlannedImport> {
  const bytes = Buffer.concat([Buffer.from(`${name}|`), randomBytes(50)]);
  const blob = `mailboxes/m/items/${name}`;
  await vault.writeItemVersion(blob, bytes);
  const item: PlannedImport = {
    sourceId: `source-${name}`,
    blob,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    length: bytes.length,
    targetFolderId: FOLDER,
    folderPath: 'Inbox',
    ...(options.searchKey === false ? {} : { searchKey: Buffer.from(`key-${name}`).toString('base64') }),
  };
  items.set(name, item);
  return item;
}

async function plan(...batches: PlannedImport[][]): Promise<void> {
  await writeIndexedNdjson(
    vault,
    { data: layout.restorePlan(RESTORE), index: layout.restorePlanIndex(RESTORE), description: 'plan' },
    batches.map((batchItems, batch) => ({ batch, items: batchItems })),
  );
}

const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn(), debug: vi.fn() };
/** One run of the batch's activity; `silent`: with no logger, as a caller may leave it out. */
const run = (batch = 0, { silent = false } = {}) =>
  importBatch(
    graph,
    vault,
    sessions,
    { restoreId: RESTORE, targetMailboxId: TARGET, batch },
    { settleInMs: SETTLE_MS, clock, ...(silent ? {} : { logger }) },
  );
const result = async (batch = 0) => (await vault.readJson<ImportBatchResult>(layout.restoreResult(RESTORE, batch)))!;
const outcome = (item: PlannedImport) => vault.readJson<JournalEntry>(layout.restoreJournal(RESTORE, item.sourceId));
function intent(item: PlannedImport, batch = 0) {
  return vault.readJson<ImportIntent>(layout.restoreIntent(RESTORE, batch, item.sourceId));
}
const copiesOf = (item: PlannedImport) => [...stored.values()].filter((i) => i.searchKey === keyOfItem(item)).length;
/** The restore's request, as far as the importer reads it. */
const restoring = (request: { collisions: string; destination: { mode: string } }) =>
  vault.writeJson(layout.restoreRequest(RESTORE), request);
/** An intent left by an earlier run of the batch that died after posting (its outcome never written). */
const earlierIntent = (item: PlannedImport, attempt: number, batch = 0, times: Partial<ImportIntent> = {}) =>
  vault.writeJson(layout.restoreIntent(RESTORE, batch, item.sourceId), {
    sourceId: item.sourceId,
    targetFolderId: item.targetFolderId,
    ...(item.searchKey ? { searchKey: item.searchKey } : {}),
    attempt,
    at: '2026-11-23T10:00:00.000Z',
    ...times,
  } satisfies ImportIntent);

beforeEach(async () => {
  ({ vault } = await freshVault('journal'));
  items.clear();
  stored.clear();
  posts.length = 0;
  script = [];
  onPost = async () => undefined;
  listingFails = false;
  listings = 0;
  sessionsCreated = 0;
  sessions = new ImportSessionCache(graph);
  clockNow = Date.parse('2026-11-23T12:00:00.000Z');
  slept.length = 0;
  lateCommits = [];
  vi.clearAllMocks();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('importing a batch', () => {
  it('writes each item’s intent before its POST and its outcome after, and counts what it did', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b', { searchKey: false });
    await plan([a, b]);
    expect(await run()).toEqual({ batch: 0, imported: 2, alreadyImported: 0, failed: 0, canceled: 0 });
    expect(logger.warn).not.toHaveBeenCalled();
    expect(logger.info).not.toHaveBeenCalled();
    expect(posts.map((p) => [p.name, p.intentAttempt])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(await intent(a)).toMatchObject({ sourceId: a.sourceId, targetFolderId: FOLDER, searchKey: a.searchKey });
    expect(await intent(b)).not.toHaveProperty('searchKey');
    expect(await outcome(a)).toEqual({
      sourceId: a.sourceId,
      newItemId: 'new-1',
      changeKey: 'ck-new-1',
      importedAt: expect.any(String),
    });
    expect(await result()).toEqual({
      batch: 0,
      outcomes: [
        { sourceId: a.sourceId, status: 'imported', newItemId: 'new-1' },
        { sourceId: b.sourceId, status: 'imported', newItemId: 'new-2' },
      ],
      bytesImported: a.length + b.length,
      throttledResponses: 2,
      throttleWaitInMs: 20,
      sessionsRenewed: 0,
    });
  });

  it('run again, posts nothing journaled, and adds to the first run’s counts without counting bytes twice', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b');
    await plan([a, b]);
    script = ['import', 'refused'];
    expect(await run()).toMatchObject({ imported: 1, failed: 1 });
    expect(await run()).toEqual({ batch: 0, imported: 1, alreadyImported: 1, failed: 0, canceled: 0 });
    expect(posts.map((p) => p.name)).toEqual(['a', 'b', 'b']);
    expect(posts[2]!.intentAttempt).toBe(2);
    expect(copiesOf(a)).toBe(1);
    expect(copiesOf(b)).toBe(1);
    expect(await result()).toEqual({
      batch: 0,
      outcomes: [
        { sourceId: a.sourceId, status: 'alreadyImported', newItemId: 'new-1' },
        { sourceId: b.sourceId, status: 'imported', newItemId: 'new-2' },
      ],
      bytesImported: a.length + b.length,
      throttledResponses: 2,
      throttleWaitInMs: 20,
      sessionsRenewed: 0,
    });
  });

  it('finds an item an earlier run posted without an outcome by its search key, and posts it not again', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b');
    stored.set('earlier', { id: 'earlier', folderId: FOLDER, mailboxId: TARGET, searchKey: keyOfItem(a) });
    const c = await plannedItem('c');
    stored.set('no-key', {
      id: 'no-key',
      folderId: FOLDER,
      mailboxId: TARGET,
      searchKey: keyOfItem(c),
      noChangeKey: true,
    });
    await earlierIntent(c, 1);
    await earlierIntent(a, 1);
    await earlierIntent(b, 2); // posted twice before, never arrived
    await plan([a, b, c]);
    expect(await run(0)).toMatchObject({ imported: 3, alreadyImported: 0 });
    expect(posts.map((p) => [p.name, p.intentAttempt])).toEqual([['b', 3]]);
    expect(copiesOf(a)).toBe(1);
    expect(await outcome(a)).toMatchObject({ newItemId: 'earlier', changeKey: 'ck-earlier', recovered: true });
    expect(await outcome(b)).not.toHaveProperty('recovered');
    // Listed without a change key: journaled with an empty one.
    expect(await outcome(c)).toMatchObject({ newItemId: 'no-key', changeKey: '', recovered: true });
    expect((await result()).outcomes).toEqual([
      { sourceId: a.sourceId, status: 'imported', newItemId: 'earlier', recovered: true },
      { sourceId: b.sourceId, status: 'imported', newItemId: 'new-3' },
      { sourceId: c.sourceId, status: 'imported', newItemId: 'no-key', recovered: true },
    ]);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/earlier run's import of an item has no outcome/));
  });

  it('takes for the copy only an item created since the first attempt: not one the target held before', async () => {
    await restoring({ collisions: 'copy', destination: { mode: 'original' } });
    const a = await plannedItem('a');
    const b = await plannedItem('b');
    // a: the original, in its folder since long before (a restore of a second copy there); b: the copy that the
    // first of two earlier attempts made, 20 minutes before the second attempt's intent.
    const at = '2026-11-23T10:20:00.000Z';
    stored.set('original', {
      ...{ id: 'original', folderId: FOLDER, mailboxId: TARGET, searchKey: keyOfItem(a) },
      createdDateTime: '2026-11-20T08:00:00Z',
    });
    stored.set('first-copy', {
      ...{ id: 'first-copy', folderId: FOLDER, mailboxId: TARGET, searchKey: keyOfItem(b) },
      createdDateTime: '2026-11-23T10:00:01Z',
    });
    // c: a copy stamped by a clock exactly the allowed skew behind ours: still the copy.
    const c = await plannedItem('c');
    stored.set('skewed-copy', {
      ...{ id: 'skewed-copy', folderId: FOLDER, mailboxId: TARGET, searchKey: keyOfItem(c) },
      createdDateTime: '2026-11-23T10:00:00.000Z',
    });
    await earlierIntent(a, 1, 0, { at, firstAt: at });
    await earlierIntent(b, 2, 0, { at, firstAt: '2026-11-23T10:00:00.000Z' });
    await earlierIntent(c, 1, 0, { at, firstAt: '2026-11-23T10:05:00.000Z' });
    await plan([a, b, c]);
    expect(await run(0)).toMatchObject({ imported: 3 });
    expect(posts.map((p) => p.name)).toEqual(['a']);
    expect(await outcome(c)).toMatchObject({ newItemId: 'skewed-copy', recovered: true });
    expect(copiesOf(a)).toBe(2);
    expect(await outcome(a)).not.toHaveProperty('recovered');
    expect(await outcome(b)).toMatchObject({ newItemId: 'first-copy', recovered: true });
    // The intent of its next attempt keeps when the item was first posted.
    expect(await intent(a)).toMatchObject({ attempt: 2, firstAt: at });
  });

  it('takes any item with the key where no original can be: a new folder, or an intent without its first time', async () => {
    await restoring({ collisions: 'copy', destination: { mode: 'newFolder' } });
    const a = await plannedItem('a');
    stored.set('copy', {
      ...{ id: 'copy', folderId: FOLDER, mailboxId: TARGET, searchKey: keyOfItem(a) },
      createdDateTime: '2026-11-20T08:00:00Z',
    });
    await earlierIntent(a, 1, 0, { at: '2026-11-23T10:20:00.000Z', firstAt: '2026-11-23T10:20:00.000Z' });
    await plan([a]);
    expect(await run(0)).toMatchObject({ imported: 1 });
    expect(posts).toEqual([]);
    expect(await outcome(a)).toMatchObject({ newItemId: 'copy', recovered: true });

    // Into the items' own folders, but the earlier intent predates `firstAt`: its `at` is only the last attempt's.
    await restoring({ collisions: 'copy', destination: { mode: 'original' } });
    const b = await plannedItem('b');
    stored.set('copy-b', {
      ...{ id: 'copy-b', folderId: FOLDER, mailboxId: TARGET, searchKey: keyOfItem(b) },
      createdDateTime: '2026-11-23T09:00:00Z',
    });
    await earlierIntent(b, 3, 1);
    // c: such an intent too, and not in the target: posted again, and still without a first time it cannot know.
    const c = await plannedItem('c');
    await earlierIntent(c, 1, 1);
    await plan([a], [b, c]);
    expect(await run(1)).toMatchObject({ imported: 2 });
    expect(posts.map((p) => p.name)).toEqual(['c']);
    expect(await outcome(b)).toMatchObject({ newItemId: 'copy-b', recovered: true });
    expect(await intent(c, 1)).toMatchObject({ attempt: 2 });
    expect(await intent(c, 1)).not.toHaveProperty('firstAt');
  });

  it('warns of a possible duplicate when an earlier run posted an item that has no search key', async () => {
    const a = await plannedItem('a', { searchKey: false });
    const b = await plannedItem('b', { searchKey: false });
    await plan([a, b]);
    await earlierIntent(a, 1);
    await run();
    expect((await result()).outcomes).toEqual([
      {
        sourceId: a.sourceId,
        status: 'imported',
        newItemId: 'new-1',
        warning: { code: 'PossibleDuplicate', message: expect.stringMatching(/without a search key/) },
      },
      { sourceId: b.sourceId, status: 'imported', newItemId: 'new-2' },
    ]);
    expect(logger.warn).toHaveBeenCalledWith(expect.stringMatching(/earlier run's import of an item has no outcome/));
  });

  it('after a lost answer looks for the item before posting again: one copy with a search key', async () => {
    const a = await plannedItem('a');
    await plan([a]);
    script = ['lostAnswer'];
    expect(await run()).toMatchObject({ imported: 1, failed: 0 });
    expect(posts).toHaveLength(1);
    expect(copiesOf(a)).toBe(1);
    expect((await result()).outcomes).toEqual([
      { sourceId: a.sourceId, status: 'imported', newItemId: 'new-1', recovered: true },
    ]);
  });

  it('after a 504 gives Exchange the settling time before looking: the copy it committed late, not a second', async () => {
    const a = await plannedItem('a');
    await plan([a]);
    script = ['lateCommit'];
    expect(await run()).toMatchObject({ imported: 1, failed: 0 });
    expect(slept).toEqual([SETTLE_MS]);
    expect(posts).toHaveLength(1);
    expect(copiesOf(a)).toBe(1);
    expect(await outcome(a)).toMatchObject({ newItemId: 'new-1', recovered: true });
  });

  it('gives an earlier run’s import the settling time from this run’s start, however old its intent', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b');
    await plan([a, b]);
    // a: its intent hours old (its POST may have started much later), its copy landing 20 s from now. b: posted
    // by that run too, never arrived: searched at once, the settling time counted from the run's start is over.
    await earlierIntent(a, 1);
    lateCommits.push({
      at: clockNow + LATE_COMMIT_MS,
      land: () => stored.set('late-a', { id: 'late-a', folderId: FOLDER, mailboxId: TARGET, searchKey: keyOfItem(a) }),
    });
    await earlierIntent(b, 1);
    expect(await run()).toMatchObject({ imported: 2, failed: 0 });
    expect(slept).toEqual([SETTLE_MS]);
    expect(posts.map((p) => p.name)).toEqual(['b']);
    expect(copiesOf(a)).toBe(1);
    expect(await outcome(a)).toMatchObject({ newItemId: 'late-a', recovered: true });
  });

  it('looks once more after its last attempt’s outcome is unknown: the copy that landed is taken', async () => {
    const a = await plannedItem('a');
    await plan([a]);
    script = ['unknown', 'unknown', 'unknown', 'lateCommit'];
    expect(await run()).toMatchObject({ imported: 1, failed: 0 });
    expect(posts).toHaveLength(4);
    expect(slept).toEqual([SETTLE_MS, SETTLE_MS, SETTLE_MS, SETTLE_MS]);
    expect(copiesOf(a)).toBe(1);
    expect(await outcome(a)).toMatchObject({ recovered: true });
  });

  it('after an outcome that is unknown and not created, posts again with the next attempt', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b', { searchKey: false });
    await plan([a, b]);
    script = ['unknown', 'import', 'unknown', 'import'];
    expect(await run()).toMatchObject({ imported: 2, failed: 0 });
    // Only a, which the target can be searched for, waited for its import to settle.
    expect(slept).toEqual([SETTLE_MS]);
    expect(logger.warn).toHaveBeenCalledWith(
      'importBatch 0: The import may or may not have created the item: the connection dropped; checking the target before trying again',
    );
    expect(posts.map((p) => [p.name, p.intentAttempt])).toEqual([
      ['a', 1],
      ['a', 2],
      ['b', 1],
      ['b', 2],
    ]);
    expect((await result()).outcomes).toEqual([
      { sourceId: a.sourceId, status: 'imported', newItemId: 'new-1' },
      {
        sourceId: b.sourceId,
        status: 'imported',
        newItemId: 'new-2',
        warning: { code: 'PossibleDuplicate', message: expect.any(String) },
      },
    ]);
  });

  it('gives an item up after four attempts whose outcome stayed unknown', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b');
    await plan([a, b]);
    script = ['unknown', 'unknown', 'unknown', 'unknown'];
    expect(await run()).toMatchObject({ imported: 1, failed: 1 });
    expect(posts.map((p) => p.name)).toEqual(['a', 'a', 'a', 'a', 'b']);
    // Each search of the target waited for the attempt before it to settle, the last look after the fourth too.
    expect(slept).toEqual([SETTLE_MS, SETTLE_MS, SETTLE_MS, SETTLE_MS]);
    expect((await result()).outcomes[0]).toEqual({
      sourceId: a.sourceId,
      status: 'failed',
      code: 'ImportUnconfirmed',
      message: 'Gave up after 4 attempts whose outcome could not be confirmed',
    });
    expect(await outcome(a)).toBeUndefined();
  });

  it('gives an item up unconfirmed, with a warning, when its last look cannot list the target', async () => {
    const a = await plannedItem('a');
    await plan([a]);
    script = ['unknown', 'unknown', 'unknown', 'unknown'];
    onPost = async () => void (listingFails = posts.length === 4);
    expect(await run()).toMatchObject({ imported: 0, failed: 1 });
    expect((await result()).outcomes[0]).toMatchObject({ status: 'failed', code: 'ImportUnconfirmed' });
    expect(logger.warn).toHaveBeenCalledWith('importBatch 0: the last look for an item failed: Graph is down');
  });

  it('gives up without a look when no attempt was posted to an outcome unknown (every session refused)', async () => {
    const a = await plannedItem('a');
    await plan([a]);
    script = ['expired', 'expired', 'expired', 'expired'];
    expect(await run()).toMatchObject({ imported: 0, failed: 1 });
    expect(listings).toBe(0);
    expect(slept).toEqual([]);
  });

  it('gives an item up unconfirmed after a failed last look with nobody to tell, too', async () => {
    const a = await plannedItem('a');
    await plan([a]);
    script = ['unknown', 'unknown', 'unknown', 'unknown'];
    onPost = async () => void (listingFails = posts.length === 4);
    expect(await run(0, { silent: true })).toMatchObject({
      failed: 1,
    });
  });

  it('reports an item Exchange refused as failed with its reason, and goes on', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b');
    await plan([a, b]);
    script = ['refused'];
    expect(await run()).toEqual({ batch: 0, imported: 1, alreadyImported: 0, failed: 1, canceled: 0 });
    expect((await result()).outcomes[0]).toEqual({
      sourceId: a.sourceId,
      status: 'failed',
      code: 'ItemTooLarge',
      message: 'Too big to import',
    });
    expect(posts).toHaveLength(2);
  });

  it('renews a refused session and counts the renewal, added to an earlier run’s', async () => {
    const a = await plannedItem('a');
    await plan([a]);
    script = ['expired'];
    await run();
    expect(sessionsCreated).toBe(2);
    expect(posts).toHaveLength(2);
    expect(await result()).toMatchObject({ sessionsRenewed: 1, throttledResponses: 1 });
    await vault.deleteBlob(layout.restoreJournal(RESTORE, a.sourceId));
    await vault.deleteBlob(layout.restoreIntent(RESTORE, 0, a.sourceId));
    script = ['expired'];
    await run();
    expect(await result()).toMatchObject({ sessionsRenewed: 2, throttledResponses: 2, throttleWaitInMs: 20 });
    expect(await result()).toMatchObject({ bytesImported: a.length });
  });

  it('counts a session renewed because it was about to expire', async () => {
    let sessionNow = Date.now();
    sessions = new ImportSessionCache(graph, () => sessionNow);
    const a = await plannedItem('a');
    const b = await plannedItem('b');
    await plan([a], [b]);
    await run(0);
    sessionNow += 2 * 3_600_000; // past the session's hour
    await run(1);
    expect(sessionsCreated).toBe(2);
    expect(await result(1)).toMatchObject({ sessionsRenewed: 1 });
  });

  it('follows an archive folder to the auxiliary mailbox Exchange names, for that folder’s next items too', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b');
    await plan([a, b]);
    script = ['redirect'];
    expect(await run()).toMatchObject({ imported: 2 });
    expect(posts.map((p) => [p.name, p.mailboxId])).toEqual([
      ['a', TARGET],
      ['a', ARCHIVE],
      ['b', ARCHIVE],
    ]);
  });

  it('stops following redirects after the hop limit', async () => {
    const a = await plannedItem('a');
    await plan([a]);
    script = Array.from({ length: MAX_REDIRECT_HOPS + 1 }, () => 'redirect' as const);
    expect(await run()).toMatchObject({ imported: 0, failed: 1 });
    expect(posts).toHaveLength(MAX_REDIRECT_HOPS + 1);
    expect((await result()).outcomes[0]).toMatchObject({ status: 'failed', code: 'ImportRedirected' });
  });

  it('posts nothing when the intent cannot be written: the activity fails, to be run again', async () => {
    const a = await plannedItem('a');
    await plan([a]);
    const real = vault.writeJson.bind(vault);
    vi.spyOn(vault, 'writeJson').mockImplementation(async (name, value, options) => {
      if (name.includes('/intents/')) throw new Error('vault unavailable');
      return real(name, value, options);
    });
    await expect(run()).rejects.toThrow('The import intent could not be written to the vault: vault unavailable');
    expect(posts).toHaveLength(0);
  });

  it('reports an item whose outcome could not be journaled imported, with a warning; its intent stays', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b', { searchKey: false });
    await plan([a, b]);
    const real = vault.writeJson.bind(vault);
    vi.spyOn(vault, 'writeJson').mockImplementation(async (name, value, options) => {
      if (name.includes('/journal/')) throw new Error('vault unavailable');
      return real(name, value, options);
    });
    expect(await run()).toMatchObject({ imported: 2, failed: 0 });
    expect(logger.warn).toHaveBeenCalledWith(
      "importBatch 0: an imported item's journal entry was not written: vault unavailable",
    );
    const [first, second] = (await result()).outcomes;
    expect(first).toMatchObject({
      status: 'imported',
      warning: {
        code: 'JournalNotWritten',
        message: expect.stringMatching(/vault unavailable.*finds it by its search key/),
      },
    });
    expect(second).toMatchObject({
      status: 'imported',
      warning: { code: 'JournalNotWritten', message: expect.stringMatching(/no search key, so a retry could import/) },
    });
    expect(await intent(a)).toBeDefined();
    // The next run finds the first item by its key and counts its bytes once.
    vi.restoreAllMocks();
    await run();
    expect(copiesOf(a)).toBe(1);
    expect(await result()).toMatchObject({ bytesImported: a.length + b.length });
  }, 20_000);

  it('stops at the next item once the restore is canceled, counting those items canceled, not failed', async () => {
    const [a, b, c] = [await plannedItem('a'), await plannedItem('b'), await plannedItem('c')];
    await plan([a, b, c]);
    onPost = async (name) => {
      if (name === 'a') await vault.writeJson(layout.restoreCanceled(RESTORE), { at: 'now' });
    };
    script = ['refused'];
    expect(await run()).toEqual({ batch: 0, imported: 0, alreadyImported: 0, failed: 1, canceled: 2 });
    expect(posts.map((p) => p.name)).toEqual(['a']);
    expect((await result()).outcomes.slice(1)).toEqual([
      { sourceId: b.sourceId, status: 'failed', code: 'Canceled', message: expect.stringMatching(/canceled/) },
      { sourceId: c.sourceId, status: 'failed', code: 'Canceled', message: expect.stringMatching(/canceled/) },
    ]);
    expect(logger.info).toHaveBeenCalledWith(expect.stringMatching(/canceled/));
  });

  it('needs no logger: the same warnings are due, with nobody to tell', async () => {
    const a = await plannedItem('a');
    const b = await plannedItem('b');
    await plan([a, b]);
    await earlierIntent(a, 1);
    script = ['unknown'];
    const real = vault.writeJson.bind(vault);
    vi.spyOn(vault, 'writeJson').mockImplementation(async (name, value, options) => {
      if (name.includes('/journal/')) throw new Error('vault unavailable');
      return real(name, value, options);
    });
    await run(0, { silent: true });
    expect((await result()).outcomes.map((o) => o.status)).toEqual(['imported', 'imported']);
    // Canceled, with nobody to tell either.
    vi.restoreAllMocks();
    await vault.writeJson(layout.restoreCanceled(RESTORE), { at: 'now' });
    expect(await run(0, { silent: true })).toMatchObject({
      canceled: 2,
    });
  });

  it('reads intents of its own batch only', async () => {
    const a = await plannedItem('a');
    await plan([], [a]);
    await earlierIntent(a, 1, 0); // another batch's intent for the same item: not this batch's concern
    await run(1);
    expect(posts.map((p) => p.name)).toEqual(['a']);
    expect((await intent(a, 1))?.attempt).toBe(1);
  });
});

describe('the journal', () => {
  it('retries an outcome write with a growing delay, then gives the reason', async () => {
    const journal = new RestoreJournal(vault, RESTORE, { outcomeWriteAttempts: 3, retryDelayInMs: 1 });
    const entry = { sourceId: 's', newItemId: 'n', changeKey: 'c', importedAt: 'now' };
    const real = vault.writeJson.bind(vault);
    let failures = 2;
    const write = vi.spyOn(vault, 'writeJson').mockImplementation(async (name, value, options) => {
      if (failures-- > 0) throw new Error(`refused\nsecond line`);
      return real(name, value, options);
    });
    expect(await journal.recordOutcome(entry)).toBeUndefined();
    expect(write).toHaveBeenCalledTimes(3);
    expect(await journal.outcome('s')).toEqual(entry);
    failures = 3;
    write.mockClear();
    expect(await journal.recordOutcome(entry)).toBe('refused');
    expect(write).toHaveBeenCalledTimes(3);
  });

  it('tries an outcome three times by default', async () => {
    const journal = new RestoreJournal(vault, RESTORE);
    const write = vi.spyOn(vault, 'writeJson').mockRejectedValue(new Error('down'));
    expect(await journal.recordOutcome({ sourceId: 's', newItemId: 'n', changeKey: 'c', importedAt: 'x' })).toBe(
      'down',
    );
    expect(write).toHaveBeenCalledTimes(3);
  });

  it('knows a canceled restore, an item’s intent only when listed, and nothing of another restore', async () => {
    const journal = new RestoreJournal(vault, RESTORE);
    expect(await journal.canceled()).toBe(false);
    await vault.writeJson(layout.restoreCanceled('other-restore'), {});
    expect(await journal.canceled()).toBe(false);
    await vault.writeJson(layout.restoreCanceled(RESTORE), {});
    expect(await journal.canceled()).toBe(true);
    const item = { sourceId: 's', targetFolderId: 'f', attempt: 1, at: 'now' };
    await journal.recordIntent(3, item);
    expect(await journal.intent(3, 's', new Set())).toBeUndefined();
    const listed = await journal.intentsOf(3);
    expect(listed).toEqual(new Set([layout.restoreIntent(RESTORE, 3, 's')]));
    expect(await journal.intent(3, 's', listed)).toEqual(item);
    expect(await journal.intentsOf(4)).toEqual(new Set());
  });
});
