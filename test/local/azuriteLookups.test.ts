import { describe, expect, it } from 'vitest';
import { azuritePatches } from '../../local/azurite.js';
import { AZURITE_SRC, LOKI_WITH_SORTS_COUNTED, runInOwnProcess } from '../support/azuriteStore.js';

/**
 * local/azurite.ts makes Azurite's blob lookups use the index that narrows them (a blob's name, not the account
 * every blob shares), turns a prefix listing into a range of that index, and removes a deleted blob from each
 * index in place rather than flagging them all to be sorted again. Without it, a delete among a million blobs
 * cost seconds (most likely why the million-item bench's commit never finished). Here the pinned Azurite's own blob store
 * (LokiJS in memory) holds 2,014 blobs; counted: the documents LokiJS's operators examined, and its index sorts.
 */
const lookupsLikeAzurite = `${LOKI_WITH_SORTS_COUNTED}
  let examined = 0;
  for (const op of Object.keys(Loki.LokiOps)) {
    const test = Loki.LokiOps[op];
    Loki.LokiOps[op] = function (a, b) { examined++; return test.call(this, a, b); };
  }
  const Store = require(azurite + '/blob/persistence/LokiBlobMetadataStore.js').default;
  const context = { contextId: 'test', startTime: new Date() };
  const properties = () => ({ etag: '"0x1"', lastModified: new Date(), contentLength: 1, leaseStatus: 'unlocked', leaseState: 'available' });
  const blob = (name) => ({ accountName: 'a', containerName: 'c', name, snapshot: '', isCommitted: true, properties: properties() });
  const item = (i) => 'items/' + String(i).padStart(5, '0');
  (async () => {
    const store = new Store('blobs', true);
    await store.init();
    await store.createContainer(context, { accountName: 'a', name: 'c', properties: properties() });
    for (let i = 0; i < 2000; i++) await store.createBlob(context, blob(item(i)));
    for (let i = 0; i < 10; i++) await store.createBlob(context, blob('runs/r1/' + i));
    for (const name of ['0x1', '0xg', 'x/0x1']) await store.createBlob(context, blob(name));
    [examined, sorts] = [0, 0];
    for (let i = 0; i < 100; i++) await store.deleteBlob(context, 'a', 'c', item(i), {});
    const deleted = { examined, sorts };
    examined = 0;
    const [listed] = await store.listBlobs(context, 'a', 'c', undefined, undefined, 'runs/r1/', 5000);
    const listing = { examined, names: listed.map((b) => b.name) };
    const [items] = await store.listBlobs(context, 'a', 'c', undefined, undefined, 'items/', 5000);
    const [hex] = await store.listBlobs(context, 'a', 'c', undefined, undefined, '0x', 5000);
    const kept = (await store.getBlobProperties(context, 'a', 'c', item(1999))).properties.contentLength;
    const gone = await store.getBlobProperties(context, 'a', 'c', item(99)).then(() => false, () => true);
    const numeric = hex.map((b) => b.name);
    console.log(JSON.stringify({ deleted, listing, items: items.length, firstItem: items[0].name, kept, gone, numeric }));
  })();
`;

interface Counts {
  deleted: { examined: number; sorts: number };
  listing: { examined: number; names: string[] };
  items: number;
  firstItem: string;
  kept: number;
  gone: boolean;
  numeric: string[];
}

const runWith = (preload: string[]) => runInOwnProcess<Counts>(preload, lookupsLikeAzurite);

const SAME_ANSWERS = {
  items: 1900,
  firstItem: 'items/00100',
  kept: 1,
  gone: true,
  // A name that reads as a number (0x1), which LokiJS sorts before all others, is still listed by its prefix.
  numeric: ['0x1', '0xg'],
  listing: expect.objectContaining({ names: ['runs/r1/0', ...'123456789'.split('').map((i) => `runs/r1/${i}`)] }),
};

describe("Azurite's blob lookups, as local/azurite.ts runs Azurite", () => {
  it('examine a few documents per delete and per prefix listing, and never sort an index again', () => {
    const patched = runWith(['--import', azuritePatches(AZURITE_SRC, 45_000)]);
    expect(patched).toMatchObject(SAME_ANSWERS);
    expect(patched.deleted.sorts).toBe(0);
    expect(patched.deleted.examined).toBeLessThanOrEqual(100 * 10);
    expect(patched.listing.examined).toBeLessThanOrEqual(10 * 3);
  });

  it('examine every blob without it (this test would otherwise prove nothing)', () => {
    const alone = runWith([]);
    expect(alone).toMatchObject(SAME_ANSWERS);
    expect(alone.deleted.sorts).toBeGreaterThanOrEqual(100);
    expect(alone.deleted.examined).toBeGreaterThan(100 * 2_000);
    expect(alone.listing.examined).toBeGreaterThanOrEqual(1_910);
  });
});
