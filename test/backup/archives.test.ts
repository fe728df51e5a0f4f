import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { SimItem, SimMailbox } from '../../local/simulator/index.js';
import type { MailboxRunResult, RunReport } from '../../shared/backup/types.js';
import type { RestoreReport } from '../../shared/restore/types.js';
import { layout } from '../../shared/vault/layout.js';
import type { ManifestEntry, ManifestItem, SnapshotRecord } from '../../shared/vault/records.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

/**
 * A user whose in-place archive has a two-level auxiliary archive chain, on beta: the archive is backed up
 * completely as a mailbox of its own (its own folders' items, and those of the auxiliary archives, reached
 * through the 308s and the per-item export redirects), listed with its owner, and restored into the archive
 * (through the import 409s) and into the primary mailbox, byte for byte by the simulator's digests.
 */

const UPN = 'ines@contoso.example';
const SIZES: [number, number] = [2_000, 20_000];
let stack: Stack;
let owner: SimMailbox;
let archive: SimMailbox;
let auxiliaries: SimMailbox[];
let report: RunReport;

/** Every item of the archive, wherever it physically is, with the mailbox holding it. */
function archiveItems(): Array<{ item: SimItem; holder: SimMailbox }> {
  return [archive, ...auxiliaries].flatMap((holder) => [...holder.items.values()].map((item) => ({ item, holder })));
}

async function manifestItems(result: MailboxRunResult): Promise<ManifestItem[]> {
  const record = await stack.vault.readJson<SnapshotRecord>(
    layout.snapshotRecord(result.mailboxId, result.snapshotId!),
  );
  const items: ManifestItem[] = [];
  for await (const entry of stack.vault.readNdjsonGz<ManifestEntry>(record!.manifestBlob))
    if (entry.kind === 'item') items.push(entry);
  return items;
}

async function blobSha(blob: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await stack.vault.openItemVersion(blob)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Each snapshot item is the simulator's item, byte for byte: its digest, and the stored blob's. */
async function expectStoredByteForByte(items: ManifestItem[], expected: SimItem[]): Promise<void> {
  expect(items.map((i) => i.id).sort()).toEqual(expected.map((i) => i.id).sort());
  const byId = new Map(expected.map((i) => [i.id, i]));
  for (const item of items) {
    expect(item.sha256).toBe(stack.sim.tenant.digest(byId.get(item.id)!));
    expect(await blobSha(item.blob)).toBe(item.sha256);
  }
}

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: UPN, items: 12, sizes: SIZES, archive: { items: 6, auxiliaryChain: [5, 7], sizes: SIZES } },
        { upn: 'ola@contoso.example', items: 4, sizes: SIZES },
      ],
    },
    { settings: { MAILBOX_VAULT_GRAPH_API_VERSION: 'beta' } },
  );
  owner = stack.sim.tenant.mailbox(UPN);
  archive = stack.sim.tenant.mailboxes.get(owner.archiveMailboxId!)!;
  auxiliaries = [...stack.sim.tenant.mailboxes.values()].filter((m) => m.kind === 'auxiliaryArchive');
  report = (await runBackup(stack)).status.report as RunReport;
});
afterAll(() => stack.close());

describe('a backup on beta', () => {
  it('backs up the archive as a mailbox of its own, with every item of its auxiliary archives, byte for byte', async () => {
    expect(report.status).toBe('Completed');
    expect(report.archives).toEqual({ included: 1 });
    expect(report.mailboxes.map((m) => [m.mailboxId, m.archiveOf])).toEqual([
      [owner.id, undefined],
      [archive.id, owner.id],
      [stack.sim.tenant.mailbox('ola@contoso.example').id, undefined],
    ]);
    const archiveResult = report.mailboxes[1]!;
    expect(archiveResult.failedFolders).toEqual([]);
    expect(archiveResult.failures).toEqual([]);
    const expected = archiveItems().map((a) => a.item);
    expect(auxiliaries.every((aux) => aux.items.size > 0)).toBe(true);
    await expectStoredByteForByte(await manifestItems(archiveResult), expected);
    await expectStoredByteForByte(await manifestItems(report.mailboxes[0]!), [...owner.items.values()]);
  });

  it('took the redirects: 308s down both links of the chain, and per-item export redirects', () => {
    expect(archive.redirectsAnswered.reads).toBeGreaterThan(0);
    expect(auxiliaries[0]!.redirectsAnswered.reads).toBeGreaterThan(0);
    expect(archive.redirectsAnswered.exports).toBeGreaterThan(0);
    expect(auxiliaries[0]!.redirectsAnswered.exports).toBeGreaterThan(0);
  });

  it('lists the archive with its owner in the snapshots API', async () => {
    const listed = await stack.api('GET', `/api/snapshots?mailbox=${UPN}`);
    expect(listed.status).toBe(200);
    expect(listed.body.archive.mailboxId).toBe(archive.id);
    expect(listed.body.archive.snapshots[0]).toMatchObject({
      id: report.mailboxes[1]!.snapshotId,
      archiveOf: owner.id,
    });
    const browsed = await stack.api(
      'GET',
      `/api/snapshots/latest/items?mailbox=${UPN}&archive=true&folder=Archive 2023`,
    );
    expect(browsed.status).toBe(200);
    expect(browsed.body.items).toHaveLength(auxiliaries[1]!.items.size);
  });

  it('next time exports only what changed, from the auxiliary archive straight', async () => {
    const [folderId] = [...auxiliaries[1]!.folders.keys()].filter((id) => id !== auxiliaries[1]!.rootFolderId);
    const added = stack.sim.tenant.addItem(auxiliaries[1]!, folderId!, { size: 3_000 });
    const next = (await runBackup(stack)).status.report as RunReport;
    const result = next.mailboxes.find((m) => m.mailboxId === archive.id)!;
    expect(result.items).toMatchObject({ exported: 1, failed: 0, inSnapshot: archiveItems().length });
    const stored = (await manifestItems(result)).find((i) => i.id === added.id)!;
    expect(stored.sha256).toBe(stack.sim.tenant.digest(added));
  });
});

describe('restores of the archive', () => {
  it('into the archive: what was deleted comes back, each item into the mailbox holding its folder', async () => {
    const lost = [archive, ...auxiliaries].map((holder) => [...holder.items.values()][0]!);
    const digests = new Map(
      lost.map((item) => [item.spec.searchKey.toString('base64'), stack.sim.tenant.digest(item)]),
    );
    const holders = [archive, ...auxiliaries];
    lost.forEach((item, i) => stack.sim.tenant.deleteItem(holders[i]!, item.id));
    const { status } = await runRestore(stack, {
      sourceMailbox: UPN,
      sourceArchive: true,
      destination: 'original',
    });
    const restore = status.report as RestoreReport;
    expect(restore.status).toBe('Completed');
    expect(restore.target.mailboxId).toBe(archive.id);
    expect(restore.counts).toMatchObject({ imported: lost.length, failed: 0 });
    lost.forEach((item, i) => {
      const back = [...holders[i]!.items.values()].find((x) => x.spec.searchKey.equals(item.spec.searchKey))!;
      expect(back.folderId).toBe(item.folderId);
      expect(back.importedDigest).toBe(digests.get(item.spec.searchKey.toString('base64')));
    });
    expect(archive.redirectsAnswered.imports).toBeGreaterThan(0);
    expect(auxiliaries[0]!.redirectsAnswered.imports).toBeGreaterThan(0);
  });

  it('into the primary mailbox: every archive item under a new folder tree, byte-identical', async () => {
    const { status } = await runRestore(stack, { sourceMailbox: archive.id, targetMailbox: UPN });
    const restore = status.report as RestoreReport;
    expect(restore.status).toBe('Completed');
    const expected = archiveItems().map((a) => a.item);
    expect(restore.counts).toMatchObject({ imported: expected.length, failed: 0 });
    const restored = new Map(
      [...owner.items.values()]
        .filter((i) => owner.folderPath(i.folderId).startsWith(`${restore.destination.root}/Archive 20`))
        .map((i) => [i.spec.searchKey.toString('base64'), i]),
    );
    for (const item of expected)
      expect(restored.get(item.spec.searchKey.toString('base64'))?.importedDigest).toBe(stack.sim.tenant.digest(item));
  });

  it('from the primary into the archive (targetArchive): a new folder tree in the main archive', async () => {
    const { status } = await runRestore(stack, { sourceMailbox: UPN, targetArchive: true, folders: ['Inbox'] });
    const restore = status.report as RestoreReport;
    expect(restore.target.mailboxId).toBe(archive.id);
    expect(restore.counts).toMatchObject({ failed: 0, imported: restore.counts.selected });
    const restored = [...archive.items.values()].filter((i) => i.importedDigest);
    for (const item of [...owner.items.values()].filter((i) => owner.folderPath(i.folderId).startsWith('Inbox'))) {
      const copy = restored.find((i) => i.spec.searchKey.equals(item.spec.searchKey));
      expect(archive.folderPath(copy!.folderId)).toBe(`${restore.destination.root}/${owner.folderPath(item.folderId)}`);
      expect(copy!.importedDigest).toBe(stack.sim.tenant.digest(item));
    }
  });
});
