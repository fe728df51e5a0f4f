import { describe, expect, it } from 'vitest';
import { itemMatches, queryWords, searchSnapshots } from '../../shared/vault/itemSearch.js';
import { folder, item, memorySource, snapshot } from './manifests.js';

const inbox = folder('f-inbox', ['Inbox']);
const projects = folder('f-proj', ['Inbox', 'Projects']);
const budget = item('i1', 'f-proj', {
  subject: 'Q3 Budget review',
  sender: 'megan@contoso.example',
  receivedDateTime: '2026-11-10T09:00:00Z',
});
const lunch = item('i2', 'f-inbox', {
  subject: 'Lunch?',
  sender: 'alex@contoso.example',
  receivedDateTime: '2026-11-20T12:00:00Z',
});
const older = snapshot('20261120T020000Z-aaaaaaaa', [inbox, projects, budget, lunch]);
// The newer snapshot no longer has the budget mail (deleted), and has a new one.
const newer = snapshot('20261121T020000Z-bbbbbbbb', [
  inbox,
  projects,
  lunch,
  item('i3', 'f-inbox', {
    subject: 'Budget follow-up',
    sender: 'megan@contoso.example',
    receivedDateTime: '2026-11-21T08:00:00Z',
  }),
]);

describe('search of snapshot manifests', () => {
  it('splits subject words on anything not a letter or digit, without case', () => {
    expect(queryWords('  Q3-Budget, Review ')).toEqual(['q3', 'budget', 'review']);
  });

  it('matches every subject word, the sender, and the received range (to exclusive)', () => {
    expect(itemMatches(budget, { words: ['budget', 'q3'] })).toBe(true);
    expect(itemMatches(budget, { words: ['budget', 'lunch'] })).toBe(false);
    expect(itemMatches(budget, { words: [], sender: 'MEGAN' })).toBe(true);
    expect(itemMatches(budget, { words: [], sender: 'alex' })).toBe(false);
    expect(itemMatches(budget, { words: [], receivedFrom: '2026-11-10T09:00:00Z' })).toBe(true);
    expect(itemMatches(budget, { words: [], receivedTo: '2026-11-10T09:00:00Z' })).toBe(false);
  });

  it('finds a deleted item in the newest snapshot that still has it, each version once', async () => {
    const source = memorySource();
    const result = await searchSnapshots([newer, older], { words: ['budget'] }, 10, source);
    expect(result.hits.map((h) => [h.item.id, h.snapshotId, h.folderPath])).toEqual([
      ['i3', newer.snapshotId, 'Inbox'],
      ['i1', older.snapshotId, 'Inbox/Projects'],
    ]);
    expect(result).toMatchObject({ more: false, snapshotsSearched: 2, itemsScanned: 4 });
    const lunches = await searchSnapshots([newer, older], { words: ['lunch'] }, 10, source);
    expect(lunches.hits.map((h) => h.snapshotId)).toEqual([newer.snapshotId]);
  });

  it('stops past top, saying there is more, and holds no more than top hits', async () => {
    const result = await searchSnapshots([newer, older], { words: [], sender: 'contoso' }, 2, memorySource());
    expect(result.hits).toHaveLength(2);
    expect(result.more).toBe(true);
    expect(result.snapshotsSearched).toBe(2);
  });
});
