import { describe, expect, it } from 'vitest';
import { azuritePatches } from '../../local/azurite.js';
import { AZURITE_SRC, LOKI_WITH_SORTS_COUNTED, runInOwnProcess } from '../support/azuriteStore.js';

/**
 * local/azurite.ts runs a module before Azurite (its process only) that sets the interval of Azurite's extent
 * sweep and makes the sweep's deletions one batch. Here that module runs before a script that does what the sweep
 * does to Azurite's own extent store (the pinned version's classes, LokiJS in memory): 3,000 extents, then 2,500
 * of them deleted one awaited call at a time. Counted: how often LokiJS sorted the extents' index again. Unbatched,
 * each deletion flags the index and the next deletion's lookup sorts it: 2,500 sorts, which blocked Azurite for
 * minutes in the suite; batched, one.
 */
const sweepLikeAzurite = `${LOKI_WITH_SORTS_COUNTED}
  const Store = require(azurite + '/common/persistence/LokiExtentMetadataStore.js').default;
  (async () => {
    const store = new Store('extents', true);
    await store.init();
    for (let i = 0; i < 3000; i++)
      await store.updateExtent({ id: 'e' + i, locationId: 'memory', path: 'e' + i, size: 1, lastModifiedInMS: 0 });
    sorts = 0;
    for (let i = 0; i < 2500; i++) await store.deleteExtent('e' + i);
    await new Promise((resolve) => setImmediate(resolve));
    const [left] = await store.listExtents(undefined, 10000);
    const interval = require(azurite + '/blob/utils/constants.js').DEFAULT_GC_INTERVAL_MS;
    const kept = await store.getExtentLocationId('e2999');
    console.log(JSON.stringify({ sorts, left: left.length, interval, kept }));
  })();
`;

const runWith = (preload: string[]) =>
  runInOwnProcess<{ sorts: number; left: number; interval: number; kept: string }>(preload, sweepLikeAzurite);

describe("Azurite's extent sweep, as local/azurite.ts runs Azurite", () => {
  it('deletes the dead extents in one batch, with the interval asked for', () => {
    const patched = runWith(['--import', azuritePatches(AZURITE_SRC, 45_000)]);
    expect(patched).toEqual({ sorts: 1, left: 500, interval: 45_000, kept: 'memory' });
  });

  it('is what Azurite alone does not do (this test would otherwise prove nothing)', () => {
    const alone = runWith([]);
    expect(alone.left).toBe(500);
    expect(alone.sorts).toBeGreaterThanOrEqual(2_000);
    expect(alone.interval).toBe(10 * 60_000);
  });
});
