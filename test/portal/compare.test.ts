import { describe, expect, it } from 'vitest';
import { diffSnapshots, pageOfChanges, summarizeChanges } from '../../shared/vault/snapshotCompare.js';
import { folder, item, memorySource, snapshot } from './manifests.js';

const inbox = folder('f-inbox', ['Inbox']);
const archive = folder('f-arch', ['Archive']);
const base = snapshot('20261120T020000Z-aaaaaaaa', [
  inbox,
  archive,
  item('kept', 'f-inbox'),
  item('edited', 'f-inbox'),
  item('gone', 'f-inbox', { subject: 'Contract' }),
  item('filed', 'f-inbox'),
]);
const other = snapshot('20261121T020000Z-bbbbbbbb', [
  inbox,
  archive,
  item('kept', 'f-inbox'),
  item('edited', 'f-inbox', { changeKey: 'ck2' }),
  item('filed', 'f-arch'),
  item('new', 'f-arch'),
]);

async function all<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

describe('compare of two snapshots', () => {
  it('names each item added, changed, deleted or moved, counted where it is (the base folder when deleted)', async () => {
    const changes = await all(diffSnapshots(base, other, memorySource()));
    expect(changes.map((c) => [c.kind, c.item.id, c.folderPath, c.fromFolderPath]).sort()).toEqual([
      ['added', 'new', 'Archive', undefined],
      ['changed', 'edited', 'Inbox', undefined],
      ['deleted', 'gone', 'Inbox', undefined],
      ['moved', 'filed', 'Archive', 'Inbox'],
    ]);
    const deleted = changes.find((c) => c.kind === 'deleted')!;
    expect(deleted.item.subject).toBe('Contract');
  });

  it('counts per folder and in all', async () => {
    const summary = await summarizeChanges(diffSnapshots(base, other, memorySource()));
    expect(summary.totals).toEqual({ added: 1, changed: 1, deleted: 1, moved: 1 });
    expect(summary.folders).toEqual([
      { folderPath: 'Archive', added: 1, changed: 0, deleted: 0, moved: 1 },
      { folderPath: 'Inbox', added: 0, changed: 1, deleted: 1, moved: 0 },
    ]);
  });

  it('finds the same changes in partitions, one pass over both manifests per partition (bounded memory)', async () => {
    const whole = await all(diffSnapshots(base, other, memorySource()));
    const source = memorySource();
    const partitioned = await all(diffSnapshots(base, other, source, 1));
    expect(source.reads).toBe(2 * 4);
    const key = (c: { kind: string; item: { id: string } }) => `${c.kind}:${c.item.id}`;
    expect(partitioned.map(key).sort()).toEqual(whole.map(key).sort());
  });

  it('pages the items of one kind in one folder', async () => {
    const many = snapshot('20261122T020000Z-cccccccc', [
      inbox,
      ...Array.from({ length: 7 }, (_, i) => item(`n${i}`, 'f-inbox')),
    ]);
    const empty = snapshot('20261119T020000Z-dddddddd', [inbox]);
    const page = await pageOfChanges(
      diffSnapshots(empty, many, memorySource()),
      { kind: 'added', folderPath: 'Inbox' },
      { skip: 5, top: 5 },
    );
    expect(page.total).toBe(7);
    expect(page.items.map((c) => c.item.id)).toEqual(['n5', 'n6']);
  });
});
