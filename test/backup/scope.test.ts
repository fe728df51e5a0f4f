import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveMailboxes } from '../../shared/backup/scope.js';
import { packBatches } from '../../shared/backup/plan.js';
import { folderPaths } from '../../shared/mailbox/index.js';
import type { Simulator } from '../../local/simulator/index.js';
import { clientFor, startSeededSimulator } from '../support/graph.js';

let sim: Simulator;
const GROUP = '6f1a2b3c-0000-4000-8000-00000000abcd';

beforeAll(async () => {
  sim = await startSeededSimulator({
    mailboxes: [
      { upn: 'ana@contoso.example', items: 0 },
      { upn: 'ben@contoso.example', items: 0 },
      { upn: 'desk@contoso.example', kind: 'shared', items: 0 },
    ],
    usersWithoutMailbox: ['kiosk@contoso.example'],
  });
  sim.tenant.groups.set(GROUP, ['ben@contoso.example', 'desk@contoso.example', 'kiosk@contoso.example']);
});
afterAll(() => sim.close());

describe('scope', () => {
  it('combines listed users and a group, counts each mailbox once, and warns about users without one', async () => {
    const { client } = clientFor(sim);
    const resolved = await resolveMailboxes(client, {
      users: ['ana@contoso.example', 'Ben@contoso.example'],
      groupId: GROUP,
    });
    expect(resolved.mailboxes.map((m) => m.upn)).toEqual([
      'ana@contoso.example',
      'Ben@contoso.example',
      'desk@contoso.example',
    ]);
    expect(resolved.warnings).toEqual(['kiosk@contoso.example has no Exchange Online mailbox and was skipped']);
  });

  it('takes an explicit subset over the configured scope', async () => {
    const { client } = clientFor(sim);
    const resolved = await resolveMailboxes(client, { users: ['ana@contoso.example'], groupId: GROUP }, [
      'desk@contoso.example',
    ]);
    expect(resolved.mailboxes.map((m) => m.upn)).toEqual(['desk@contoso.example']);
  });
});

describe('batch packing', () => {
  const item = (id: number, size: number) => ({ id: String(id), folderId: 'f', changeKey: 'c', size });
  it('keeps at most 20 ids and the size budget per batch, and sends an oversized item alone', () => {
    const batches = packBatches(
      [...Array.from({ length: 45 }, (_, i) => item(i, 10)), item(99, 500), item(100, 60), item(101, 60)],
      { maxItemsPerBatch: 20, batchReportedBytes: 100 },
    );
    expect(batches.map((b) => b.length)).toEqual([10, 10, 10, 10, 5, 1, 1, 1]);
    expect(batches.every((b) => b.length <= 20 && (b.length === 1 || b.reduce((s, i) => s + i.size, 0) <= 100))).toBe(
      true,
    );
  });
});

describe('folder paths', () => {
  it('builds paths from the root down and keeps names with slashes whole', () => {
    const folders = new Map([
      ['root', { id: 'root', parentId: 'nonipm', displayName: '', wellKnownName: 'msgfolderroot' }],
      ['inbox', { id: 'inbox', parentId: 'root', displayName: 'Inbox', wellKnownName: 'inbox' }],
      ['odd', { id: 'odd', parentId: 'inbox', displayName: 'a/b', wellKnownName: null }],
    ]);
    const paths = folderPaths(folders);
    expect(paths.get('root')).toEqual([]);
    expect(paths.get('odd')).toEqual(['Inbox', 'a/b']);
  });
});
