import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestEntry, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { layout } from '../../shared/vault/layout.js';
import type { RunReport } from '../../shared/backup/types.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * What production will do to us: throttling storms, 503/504, dropped connections, bodies cut short, items left
 * out of responses, per-item errors, and an activity's worker dying mid-run. Every item must end stored or
 * named in the report with its reason, and a second run must complete what was missing.
 */

let stack: Stack;
const upns = ['kim@contoso.example', 'lee@contoso.example', 'team@contoso.example'];

async function storedItems(mailboxId: string, snapshotId: string): Promise<ManifestItem[]> {
  const record = await stack.vault.readJson<SnapshotRecord>(layout.snapshotRecord(mailboxId, snapshotId));
  const items: ManifestItem[] = [];
  for await (const entry of stack.vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob))
    if (entry.kind === 'item') items.push(entry);
  return items;
}

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: upns[0]!, items: 120 },
        { upn: upns[1]!, items: 90 },
        { upn: upns[2]!, kind: 'shared', items: 60 },
      ],
    },
    { simulator: { latencyMs: 3, latencyJitterMs: 10 } },
  );
});
afterAll(() => stack.close());

describe('a backup under faults', () => {
  it('ends with every item stored or named with its reason, never more than 4 requests in flight, and a re-run completes it', async () => {
    const { sim } = stack;
    const kim = sim.tenant.mailbox(upns[0]!);
    const doomed = [...kim.items.values()][7]!;
    doomed.exportErrorCode = 'ErrorCorruptItem'; // fails every time, until "repaired" below
    sim.setFaults({
      http503: 0.04,
      http504: 0.02,
      drop: 0.02,
      truncateExport: 0.05,
      exportItemError: 0.03,
      exportItemOmitted: 0.03,
      retryAfter503Seconds: 0,
    });
    sim.script(
      { fault: 'http429', operation: 'exportItems', mailbox: upns[1], times: 6, retryAfterSeconds: 1 },
      { fault: 'http429', operation: 'itemDelta', mailbox: upns[2], times: 3, retryAfterSeconds: 1 },
    );
    // Workers dying: one before an export activity runs, two after one did its work but before it reported.
    stack.app.host.injectActivityFault({ activity: 'exportBatch', when: 'before', times: 1 });
    stack.app.host.injectActivityFault({ activity: 'exportBatch', when: 'after', times: 2 });
    stack.app.host.injectActivityFault({ activity: 'planMailboxSlice', when: 'after', times: 1 });

    const { status } = await runBackup(stack);
    const report = status.report as RunReport;
    expect(status.runtimeStatus).toBe('Completed');
    expect(report.status).toBe('CompletedWithErrors');

    for (const result of report.mailboxes) {
      const mailbox = sim.tenant.mailbox(result.mailboxId);
      expect(result.snapshotId).toBeTruthy();
      const stored = new Map((await storedItems(result.mailboxId, result.snapshotId!)).map((i) => [i.id, i]));
      const failed = new Map(result.failures.map((f) => [f.itemId, f]));
      for (const item of mailbox.items.values()) {
        if (failed.has(item.id)) {
          expect(failed.get(item.id)!.code).toMatch(/\w/);
          expect(failed.get(item.id)!.message).toMatch(/\w/);
          expect(stored.has(item.id)).toBe(false);
        } else {
          expect(stored.get(item.id)?.sha256, `${result.upn} ${item.id}`).toBe(sim.tenant.digest(item));
        }
      }
      expect(result.items.failed).toBe(result.failures.length);
      expect(sim.throttle.countersFor(result.mailboxId).maxInFlight).toBeLessThanOrEqual(4);
    }
    const kimResult = report.mailboxes.find((m) => m.upn === upns[0])!;
    expect(kimResult.failures).toContainEqual(
      expect.objectContaining({ itemId: doomed.id, code: 'ErrorCorruptItem', folderPath: expect.any(String) }),
    );
    expect(report.totals.throttledResponses).toBeGreaterThanOrEqual(6);
    expect(report.totals.throttleWaitInMs).toBeGreaterThan(0);

    // The next night, with Exchange healthy again: what was missing is exported, nothing else.
    delete doomed.exportErrorCode;
    sim.setFaults({ http503: 0, http504: 0, drop: 0, truncateExport: 0, exportItemError: 0, exportItemOmitted: 0 });
    sim.throttle.resetCounters();
    const second = await runBackup(stack);
    const secondReport = second.status.report as RunReport;
    expect(secondReport.status).toBe('Completed');
    for (const result of secondReport.mailboxes) {
      const mailbox = sim.tenant.mailbox(result.mailboxId);
      const stored = await storedItems(result.mailboxId, result.snapshotId!);
      expect(stored.map((i) => i.id).sort()).toEqual([...mailbox.items.keys()].sort());
      for (const item of stored) expect(item.sha256).toBe(sim.tenant.digest(mailbox.items.get(item.id)!));
      const previous = report.mailboxes.find((m) => m.mailboxId === result.mailboxId)!;
      expect(sim.throttle.countersFor(result.mailboxId).exportedItems).toBe(previous.failures.length);
    }
  });
});
