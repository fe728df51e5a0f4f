import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunReport } from '../../shared/backup/types.js';
import type { RestoreReport } from '../../shared/restore/types.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

/**
 * Restores under what production does: a worker dying mid-restore, an import whose answer is lost after the
 * item was created, import sessions expiring, the upload budget running out. No duplicates, nothing missing,
 * and the import URL's token nowhere.
 */

let stack: Stack;
const SOURCE = 'omar@contoso.example';
const TARGET = 'omar-restored@contoso.example';
const LATE_TARGET = 'omar-late@contoso.example';
const logs: string[] = [];
const SETTLE_MS = 1_000;
let sourceBytes = 0;

function bySearchKey(upn: string) {
  const mailbox = stack.sim.tenant.mailbox(upn);
  const counts = new Map<string, number>();
  for (const item of mailbox.items.values()) {
    const key = item.spec.searchKey.toString('base64');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: SOURCE, items: 80, sizes: [20_000, 120_000] },
        { upn: TARGET, items: 0 },
        { upn: LATE_TARGET, items: 0 },
      ],
    },
    {
      // An upload budget of ~1.5 MB per second, which the app is not told of (no pacing), makes the restore
      // run into it several times.
      simulator: { limits: { uploadBudget: { bytes: 1_500_000, windowMs: 1_000 } } },
      settings: {
        MAILBOX_VAULT_GRAPH_LOG: 'warnings',
        MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: '0',
        // Longer than the late commits scripted below (the simulator's timers run first, in this same process).
        MAILBOX_VAULT_IMPORT_SETTLE_SECONDS: String(SETTLE_MS / 1000),
      },
      log: (level, name, ...args) => logs.push(`${level} ${name} ${args.map(String).join(' ')}`),
    },
  );
  const { status } = await runBackup(stack);
  sourceBytes = (status.report as RunReport).totals.bytesExported;
});
afterAll(() => stack.close());

describe('a restore under faults', () => {
  it('imports every item exactly once through crashes, lost answers, expired sessions and upload throttling', async () => {
    const warn = vi
      .spyOn(console, 'warn')
      .mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(' ')));
    try {
      const { sim, app } = stack;
      // Lost answers: created in Exchange, but the client never hears back.
      sim.script({ fault: 'loseImportResponse', operation: 'importItem', times: 3 });
      // Workers dying before an import batch, and after one did its imports but before it reported.
      app.host.injectActivityFault({ activity: 'importBatch', when: 'before', times: 1 });
      app.host.injectActivityFault({ activity: 'importBatch', when: 'after', times: 2 });
      // Sessions expiring: once as Exchange turns one down mid-restore, once for every session at a time.
      sim.script({ fault: 'expireSession', operation: 'importItem', times: 2 });
      // Throttled at least once whatever the machine's speed (the budget above is hit only by a fast enough run).
      sim.script({ fault: 'http429', operation: 'importItem', times: 1, retryAfterSeconds: 1 });
      let expiredAll = false;
      const importsBefore = sim.throttle.countersFor(sim.tenant.mailbox(TARGET).id).importedItems;
      const watcher = setInterval(() => {
        if (!expiredAll && sim.throttle.countersFor(sim.tenant.mailbox(TARGET).id).importedItems - importsBefore > 30) {
          expiredAll = true;
          sim.expireImportSessions();
        }
      }, 5);
      const { status } = await runRestore(stack, { sourceMailbox: SOURCE, targetMailbox: TARGET });
      clearInterval(watcher);
      const report = status.report as RestoreReport;
      expect(status.status).toBe('Completed');
      expect(expiredAll).toBe(true);
      const source = bySearchKey(SOURCE);
      const target = bySearchKey(TARGET);
      expect(report.counts).toMatchObject({ selected: source.size, imported: source.size, failed: 0 });
      for (const key of source.keys()) expect(target.get(key), key).toBe(1); // no duplicates, nothing missing
      // Every byte counted once, the imports of batches whose worker died after them included.
      expect(report.bytesImported).toBe(sourceBytes);
      expect(report.throttling.responses).toBeGreaterThan(0); // throttling was met and waited out
      expect(sim.throttle.countersFor(sim.tenant.mailbox(TARGET).id).maxInFlight).toBeLessThanOrEqual(4);

      // The import URL (it carries a token) and the Graph token are nowhere Durable, the vault or logs keep.
      const secrets = [sim.demoToken, 'authtoken=', '/importItem'];
      const durable = JSON.stringify(
        app.host.listInstances().map((i) => app.host.getStatus(i.instanceId, { showHistory: true })),
      );
      const stored: string[] = [];
      for await (const name of stack.vault.listNames('restores/'))
        stored.push((await stack.vault.container.getBlockBlobClient(name).downloadToBuffer()).toString('utf8'));
      for await (const blob of stack.audit.listBlobsFlat())
        stored.push((await stack.audit.getBlobClient(blob.name).downloadToBuffer()).toString('utf8'));
      expect(stored.length).toBeGreaterThan(20);
      for (const secret of secrets) {
        expect(durable).not.toContain(secret);
        for (const text of stored) expect(text).not.toContain(secret);
        for (const line of logs) expect(line).not.toContain(secret);
        expect(JSON.stringify(status)).not.toContain(secret);
      }
      expect(logs.some((l) => /throttled|checking the target/.test(l))).toBe(true);
    } finally {
      warn.mockRestore();
    }
  });

  it('finds an item Exchange committed after its gateway answered 504, and does not post it again', async () => {
    const target = LATE_TARGET;
    stack.sim.script({ fault: 'commitImportLate', operation: 'importItem', times: 3, delayInMs: SETTLE_MS / 3 });
    const { status } = await runRestore(stack, { sourceMailbox: SOURCE, targetMailbox: target, folders: ['Inbox'] });
    const report = status.report as RestoreReport;
    expect(status.status).toBe('Completed');
    // The three 504s were answered, and their items committed late.
    expect(stack.sim.throttle.scripted.filter((f) => f.fault === 'commitImportLate')).toEqual([]);
    expect(report.counts.selected).toBeGreaterThan(3);
    expect(report.counts).toMatchObject({ imported: report.counts.selected, failed: 0 });
    const copies = bySearchKey(target);
    expect(copies.size).toBe(report.counts.selected);
    for (const [key, count] of copies) expect(count, key).toBe(1);
  });

  it('refuses to import an item whose stored bytes were damaged, and names it', async () => {
    const source = stack.sim.tenant.mailbox(SOURCE);
    const victim = [...source.items.values()][0]!;
    const listing = await stack.api(
      'GET',
      `/api/snapshots/latest/items?mailbox=${SOURCE}&folder=${encodeURIComponent(source.folderPath(victim.folderId))}&top=1000`,
    );
    expect(listing.status).toBe(200);
    // Damage the stored version (as a storage fault would) by overwriting the blob with different bytes.
    const { layout } = await import('../../shared/vault/layout.js');
    const blob = stack.vault.container.getBlockBlobClient(layout.itemVersion(source.id, victim.id, victim.changeKey));
    const original = await blob.downloadToBuffer();
    const damaged = Buffer.from(original);
    damaged[damaged.length - 50] = damaged[damaged.length - 50]! ^ 0xff;
    const props = await blob.getProperties();
    await blob.upload(damaged, damaged.length, { metadata: props.metadata });
    try {
      const target = stack.sim.tenant.mailbox(TARGET);
      const before = target.items.size;
      const { status } = await runRestore(stack, {
        sourceMailbox: SOURCE,
        targetMailbox: TARGET,
        itemIds: [victim.id],
        collisions: 'copy',
      });
      const report = status.report as RestoreReport;
      expect(status.status).toBe('CompletedWithErrors');
      expect(report.failures).toEqual([expect.objectContaining({ sourceItemId: victim.id, code: 'ChecksumMismatch' })]);
      expect(target.items.size).toBe(before);
    } finally {
      await blob.upload(original, original.length, { metadata: (await blob.getProperties()).metadata });
    }
  });

  it('can be canceled, and says so', async () => {
    stack.sim.setLatency(30);
    const started = await stack.api('POST', '/api/restores', {
      sourceMailbox: SOURCE,
      targetMailbox: TARGET,
      collisions: 'copy',
    });
    expect(started.status).toBe(202);
    await new Promise((r) => setTimeout(r, 300));
    const canceled = await stack.api('DELETE', `/api/restores/${started.body.id}`);
    stack.sim.setLatency(0);
    expect(canceled.status).toBe(202);
    const status = await stack.api('GET', `/api/restores/${started.body.id}`);
    expect(status.body.status).toBe('Canceled');
    expect(status.body.runtimeStatus).toBe('Canceled');
    // What was not imported is named, not left out.
    const counts = status.body.report.counts as RestoreReport['counts'];
    expect(counts.imported + counts.failed).toBe(counts.selected);
    expect(
      (status.body.report as RestoreReport).failures.every((f) => f.code === 'Canceled' || f.code === 'NotImported'),
    ).toBe(true);
    expect((await stack.api('DELETE', `/api/restores/${started.body.id}`)).status).toBe(409);
  });
});
