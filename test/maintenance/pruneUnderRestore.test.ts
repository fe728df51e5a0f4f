import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { withMailboxLease } from '../../shared/vault/mailboxOwner.js';
import type { RestoreOutput } from '../../functions/contracts.js';
import { compactTime, keyOf, layout } from '../../shared/vault/layout.js';
import { listSnapshots } from '../../shared/vault/snapshotCatalog.js';
import { setVaultWriteHook } from '../../shared/vault/writeFaults.js';
import { maintenanceInput, ZERO_RETENTION } from '../support/integrity.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * A prune that waits for the mailbox's lease (a commit holds it) still sees the restores requested meanwhile:
 * the snapshot such a restore reads is not expired under it (found by the concurrency test's reasoning; the
 * list of running restores used to be read before the lease was taken).
 */

let stack: Stack;
const SOURCE = 'ana@contoso.example';
const TARGET = 'ben@contoso.example';

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: SOURCE, items: 5 },
        { upn: TARGET, items: 0 },
      ],
    },
    { settings: ZERO_RETENTION },
  );
}, 120_000);
afterAll(() => stack.close());
afterEach(() => setVaultWriteHook(undefined));

describe('a prune waiting for the mailbox lease', () => {
  it('keeps the snapshot of a restore requested while it waited', async () => {
    const source = stack.sim.tenant.mailbox(SOURCE);
    await runBackup(stack, { mailboxes: [SOURCE] });
    stack.sim.tenant.changeItem(source, [...source.items.keys()][0]!);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // run ids have a second's resolution
    await runBackup(stack, { mailboxes: [SOURCE] });
    const [, older] = await listSnapshots(stack.vault, source.id);
    expect(older).toBeDefined();

    // Another worker (a commit) holds the mailbox; meanwhile the prune starts and a restore of the older snapshot
    // is requested.
    let restoreId = '';
    const id = `maintenance-${compactTime(new Date(Date.now() + 86_400_000))}`;
    await withMailboxLease(stack.vault, keyOf(source.id), async () => {
      let pruneWaiting!: () => void;
      const pruneAtTheLease = new Promise<void>((resolve) => (pruneWaiting = resolve));
      // The prune's first write to the source is its owner record's, just before it asks for the lease (the
      // target's prune may come first: its owner record is another).
      const owner = layout.byKey.owner(keyOf(source.id));
      setVaultWriteHook((write) => write.blobName === owner && pruneWaiting());
      stack.app.host.startNew('vaultMaintenance', { instanceId: id, input: maintenanceInput(id) });
      await pruneAtTheLease;
      setVaultWriteHook(undefined);
      const started = await stack.api('POST', '/api/restores', {
        sourceMailbox: SOURCE,
        snapshot: older!.snapshotId,
        targetMailbox: TARGET,
        destination: 'original',
      });
      expect(started.status).toBe(202);
      restoreId = started.body.id as string;
    });
    // The restore stays running until the prune is done (the write of its report, which ends it, waits): a
    // 5-item restore could otherwise end before the prune gets the lease, and a snapshot nobody reads may go.
    let pruneDone!: () => void;
    const pruned = new Promise<void>((resolve) => (pruneDone = resolve));
    const report = layout.restoreReport(restoreId);
    setVaultWriteHook((write, phase) => (write.blobName === report && phase === 'before' ? pruned : undefined));
    expect((await stack.app.host.waitForCompletion(id)).runtimeStatus).toBe('Completed');
    pruneDone();
    // The orchestration's output, not the report blob: with zero retention the maintenance may expire the
    // finished restore's folder.
    const output = (await stack.app.host.waitForCompletion(restoreId)).output as RestoreOutput;

    expect(await stack.vault.readJson(layout.snapshotRecord(source.id, older!.snapshotId))).toBeDefined();
    expect(output.counts).toMatchObject({ selected: 5, imported: 5, failed: 0 });
  });
});
