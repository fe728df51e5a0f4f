import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READER_MARKERS_SETTLE_IN_MS } from '../../shared/maintenance/readerMarkers.js';
import { layout } from '../../shared/vault/layout.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * The reader-marker backfill completes only when its two passes lie an hour apart by the clock of the passes
 * themselves. A scheduled maintenance run stands for its scheduled time, which can be long before it runs (a timer
 * that fired late): stamping its pass with that time would let a pass minutes later complete the backfill, and a
 * request an old instance writes without a marker meanwhile would protect nothing from the prunes.
 */

let stack: Stack;
beforeAll(async () => {
  // Once a year: the occurrence a fire stands for is always far behind the fire (but in the first hour of a year).
  stack = await startStack(
    { mailboxes: [{ upn: 'adele@contoso.example', items: 2 }] },
    { settings: { MAILBOX_VAULT_MAINTENANCE_SCHEDULE: '0 0 0 1 1 *' } },
  );
});
afterAll(() => stack.close());

interface BackfillState {
  firstBackfillAt: string;
  completedAt?: string;
}

describe('the reader-marker backfill of a maintenance run whose timer fired late', () => {
  it('stamps its first pass with the time it ran, so a run minutes later does not complete it', async () => {
    const before = Date.now();
    await stack.app.host.invokeTimer('scheduledMaintenance');
    const scheduled = stack.app.host.listInstances().find((i) => /^maintenance-\d{4}0101T000000Z$/.test(i.instanceId))!;
    expect(scheduled).toBeDefined();
    await stack.app.host.waitForCompletion(scheduled.instanceId);
    const first = (await stack.vault.readJson<BackfillState>(layout.readerMarkersBackfilled()))!;
    expect(Date.parse(first.firstBackfillAt)).toBeGreaterThanOrEqual(before);

    const manual = await stack.api('POST', '/api/maintenance', { prune: { dryRun: true } });
    expect(manual.status).toBe(202);
    await stack.app.host.waitForCompletion(manual.body.id as string);
    const second = (await stack.vault.readJson<BackfillState>(layout.readerMarkersBackfilled()))!;
    expect(second).toEqual({ ...first, markersWritten: 0 });
    expect(second.completedAt).toBeUndefined();
    expect(READER_MARKERS_SETTLE_IN_MS).toBe(3_600_000);
  });
});
