import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RestoreReport } from '../../shared/restore/types.js';
import { getServices } from '../../shared/services.js';
import { layout } from '../../shared/vault/layout.js';
import type { VaultStore } from '../../shared/vault/vaultStore.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

/**
 * The restore journal is written ahead of each import: a worker that dies between Exchange's answer and the
 * journal write, a journal write that fails, and a cancel while batches run never duplicate an item, never
 * report an imported item as failed, and never leave an item out of the report.
 */

let stack: Stack;
const SOURCE = 'ana@contoso.example';
const CONCURRENCY = 2;

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: SOURCE, items: 60, sizes: [4_000, 20_000] },
        { upn: 'crash@contoso.example', items: 0 },
        { upn: 'journal@contoso.example', items: 0 },
        { upn: 'intent@contoso.example', items: 0 },
        { upn: 'cancel@contoso.example', items: 0 },
      ],
    },
    { settings: { MAILBOX_VAULT_IMPORT_CONCURRENCY: String(CONCURRENCY) } },
  );
  await runBackup(stack);
});
afterAll(() => stack.close());
afterEach(() => {
  vi.restoreAllMocks();
  stack.sim.setLatency(0);
});

/** The first `count` items of the source, as a restore's `itemIds` filter (at most one import batch). */
function someSourceItems(count: number) {
  return [...stack.sim.tenant.mailbox(SOURCE).items.values()].slice(0, count);
}

/** How many copies of each (search key, content digest) the mailbox holds. */
function copiesIn(upn: string): Map<string, number> {
  const copies = new Map<string, number>();
  for (const item of stack.sim.tenant.mailbox(upn).items.values()) {
    const key = `${item.spec.searchKey.toString('base64')} ${item.importedDigest}`;
    copies.set(key, (copies.get(key) ?? 0) + 1);
  }
  return copies;
}

/** The target holds each source item exactly once: its search key with the SHA-256 the vault recorded for it. */
async function expectEachOnce(sourceItems: ReturnType<typeof someSourceItems>, targetUpn: string): Promise<void> {
  const source = stack.sim.tenant.mailbox(SOURCE);
  const copies = copiesIn(targetUpn);
  expect(stack.sim.tenant.mailbox(targetUpn).items.size).toBe(sourceItems.length);
  for (const item of sourceItems) {
    const stored = await stack.vault.getItemVersion(layout.itemVersion(source.id, item.id, item.changeKey));
    expect(copies.get(`${item.spec.searchKey.toString('base64')} ${stored?.sha256}`), item.id).toBe(1);
  }
}

/** Intercepts the activities' vault writes of one journal part (the local host runs them in this process). */
async function interceptJournalWrites(
  onWrite: (name: string, write: () => Promise<boolean>) => Promise<boolean>,
  part: 'journal' | 'intents' = 'journal',
): Promise<VaultStore> {
  const { vault } = await getServices();
  const original = vault.writeJson.bind(vault);
  vi.spyOn(vault, 'writeJson').mockImplementation((name, value, options) =>
    name.startsWith('restores/') && name.split('/')[2] === part
      ? onWrite(name, () => original(name, value, options))
      : original(name, value, options),
  );
  return vault;
}

/** The bytes the vault holds for these source items: what a restore of them imports, counted once. */
async function storedBytes(items: ReturnType<typeof someSourceItems>): Promise<number> {
  const source = stack.sim.tenant.mailbox(SOURCE);
  let bytes = 0;
  for (const item of items)
    bytes += (await stack.vault.getItemVersion(layout.itemVersion(source.id, item.id, item.changeKey)))!.length;
  return bytes;
}

describe('a write-ahead restore', () => {
  it('does not import again an item whose worker died between Exchange answering and the journal write', async () => {
    const items = someSourceItems(6);
    let dropped = 0;
    // The first answer's journal write never lands (the process died there), and Durable runs the activity again.
    await interceptJournalWrites(async (_name, write) => (dropped++ === 0 ? true : write()));
    stack.app.host.injectActivityFault({ activity: 'importBatch', when: 'after', times: 1 });
    const { status } = await runRestore(stack, {
      sourceMailbox: SOURCE,
      targetMailbox: 'crash@contoso.example',
      itemIds: items.map((i) => i.id),
      collisions: 'copy',
    });
    expect(dropped).toBeGreaterThan(1);
    const report = status.report as RestoreReport;
    expect(status.status).toBe('Completed');
    expect(report.counts).toMatchObject({ selected: items.length, imported: items.length, failed: 0 });
    expect(report.bytesImported).toBe(await storedBytes(items));
    await expectEachOnce(items, 'crash@contoso.example');
  });

  it('fails the activity before posting when an intent cannot be written, and its retry imports each item once', async () => {
    const items = someSourceItems(4);
    let refused = 0;
    await interceptJournalWrites(async (_name, write) => {
      if (refused++ === 1) throw new Error('[injected] 503 ServerBusy');
      return write();
    }, 'intents');
    const { status } = await runRestore(stack, {
      sourceMailbox: SOURCE,
      targetMailbox: 'intent@contoso.example',
      itemIds: items.map((i) => i.id),
      collisions: 'copy',
    });
    const report = status.report as RestoreReport;
    expect(status.status).toBe('Completed');
    expect(report.counts).toMatchObject({ selected: items.length, imported: items.length, failed: 0 });
    await expectEachOnce(items, 'intent@contoso.example');
  });

  it('reports an item imported, with a warning, when its journal write keeps failing', async () => {
    const items = someSourceItems(5);
    let failing: string | undefined;
    await interceptJournalWrites(async (name, write) => {
      failing ??= name;
      if (name === failing) throw new Error('[injected] 503 ServerBusy');
      return write();
    });
    const { status } = await runRestore(stack, {
      sourceMailbox: SOURCE,
      targetMailbox: 'journal@contoso.example',
      itemIds: items.map((i) => i.id),
      collisions: 'copy',
    });
    const report = status.report as RestoreReport;
    expect(report.counts).toMatchObject({ selected: items.length, imported: items.length, failed: 0 });
    expect(report.failures).toEqual([]);
    expect(report.warnings).toEqual([expect.objectContaining({ code: 'JournalNotWritten' })]);
    await expectEachOnce(items, 'journal@contoso.example');
  });

  it('stops running import batches within an item of a cancel, and reports what was and was not imported', async () => {
    const target = stack.sim.tenant.mailbox('cancel@contoso.example');
    stack.sim.setLatency(20);
    const started = await stack.api('POST', '/api/restores', {
      sourceMailbox: SOURCE,
      targetMailbox: 'cancel@contoso.example',
      collisions: 'copy',
    });
    expect(started.status).toBe(202);
    while (target.items.size < 3) await new Promise((r) => setTimeout(r, 2));
    expect((await stack.api('DELETE', `/api/restores/${started.body.id}`)).status).toBe(202);
    const atCancel = target.items.size;
    await stack.app.host.idle();
    // Each running batch may finish the import it was sending; none starts another item.
    expect(target.items.size - atCancel).toBeLessThanOrEqual(CONCURRENCY);
    const status = await stack.api('GET', `/api/restores/${started.body.id}`);
    const report = status.body.report as RestoreReport;
    expect(report.status).toBe('Canceled');
    expect(report.counts.imported).toBe(target.items.size);
    expect(report.counts.imported + report.counts.failed).toBe(report.counts.selected);
    expect(report.failures.every((f) => f.code === 'Canceled')).toBe(true);
  });
});

describe('a copy restored into the folder that still holds the original', () => {
  it('is imported after a worker died between its intent and its POST: the original is not taken for it', async () => {
    const [item] = someSourceItems(1);
    const searchKey = item!.spec.searchKey.toString('base64');
    const holding = () =>
      [...stack.sim.tenant.mailbox(SOURCE).items.values()].filter(
        (i) => i.spec.searchKey.toString('base64') === searchKey,
      );
    expect(holding()).toHaveLength(1);
    let died = false;
    // The intent lands, then the worker dies before posting: the retry finds the intent with no outcome.
    await interceptJournalWrites(async (_name, write) => {
      const written = await write();
      if (died) return written;
      died = true;
      throw new Error('[injected] the worker died after its intent');
    }, 'intents');
    const { status } = await runRestore(stack, {
      sourceMailbox: SOURCE,
      itemIds: [item!.id],
      destination: 'original',
      collisions: 'copy',
    });
    expect(died).toBe(true);
    const report = status.report as RestoreReport;
    expect(report.counts).toMatchObject({ selected: 1, imported: 1, failed: 0 });
    expect(holding()).toHaveLength(2);
    const journal = await stack.vault.readJson<{ recovered?: boolean }>(
      layout.restoreJournal(report.restoreId, item!.id),
    );
    expect(journal?.recovered).toBeUndefined();
  });
});
