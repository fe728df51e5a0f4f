import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout } from '../../shared/vault/layout.js';
import { plantUnstartedRequest } from '../support/artifacts.js';
import { runBackup, runRestore, startStack, type Stack } from '../support/stack.js';

/**
 * The retention policy deletes the folders of finished work while Durable still remembers the instances. The
 * status routes must then say the record is gone (410), not answer from Durable's history alone: before, a
 * restore finished weeks ago was shown as "Running" with no report, and a backup run as "Unknown".
 */

const SOURCE = 'ana@contoso.example';
const TARGET = 'ben@contoso.example';
let stack: Stack;
const ids = { backup: '', restore: '', maintenance: '' };

beforeAll(async () => {
  stack = await startStack({
    mailboxes: [
      { upn: SOURCE, items: 6 },
      { upn: TARGET, items: 0 },
    ],
  });
  ids.backup = (await runBackup(stack, { mailboxes: [SOURCE] })).id;
  ids.restore = (await runRestore(stack, { sourceMailbox: SOURCE, targetMailbox: TARGET })).id;
  const maintenance = await stack.api('POST', '/api/maintenance', { prune: { dryRun: true } });
  ids.maintenance = maintenance.body.id as string;
  await stack.app.host.waitForCompletion(ids.maintenance);
}, 120_000);
afterAll(() => stack.close());

async function deleteFolder(prefix: string): Promise<void> {
  for await (const name of stack.vault.listNames(prefix)) await stack.vault.deleteBlob(name);
}

describe('status routes of work whose folder the retention policy deleted', () => {
  it('answer from the vault while the folders are there', async () => {
    for (const [route, id] of [
      ['backups', ids.backup],
      ['restores', ids.restore],
      ['maintenance', ids.maintenance],
    ] as const) {
      const answer = await stack.api('GET', `/api/${route}/${id}`);
      expect(answer.status, route).toBe(200);
      expect(answer.body.status, route).toBe('Completed');
      expect(answer.body.report, route).not.toBeNull();
    }
  });

  it('answer 410 once the folders are gone, though Durable still knows each instance', async () => {
    await deleteFolder(`restores/${ids.restore}/`);
    await deleteFolder(`maintenance/${ids.maintenance}/`);
    // A backup run's report goes with its last snapshot: the rest of its folder earlier.
    await stack.vault.deleteBlob(layout.runReport(ids.backup));
    for (const [route, id] of [
      ['backups', ids.backup],
      ['restores', ids.restore],
      ['maintenance', ids.maintenance],
    ] as const) {
      expect(await stack.app.host.client.getStatus(id), route).toBeDefined();
      const answer = await stack.api('GET', `/api/${route}/${id}`);
      expect(answer.status, route).toBe(410);
      expect(answer.body.error.title, route).toMatch(/retention policy/);
    }
  });

  it('answer 404 for an id the vault never held, and 410 for one older than a week', async () => {
    const young = new Date(Date.now() - 3_600_000).toISOString().replace(/[-:]|\.\d{3}/g, '');
    for (const [route, prefix, suffix] of [
      ['backups', 'backup', ''],
      ['restores', 'restore', '-0a0b0c0d'],
      ['maintenance', 'maintenance', '-0a0b0c0d'],
    ] as const) {
      expect((await stack.api('GET', `/api/${route}/${prefix}-${young}${suffix}`)).status, route).toBe(404);
      expect((await stack.api('GET', `/api/${route}/${prefix}-20250101T020000Z${suffix}`)).status, route).toBe(410);
    }
  });

  it('answer 404 for an old restore whose request is there but whose orchestration never started', async () => {
    const never = 'restore-20250101T040000Z-0c0d0e0f';
    await plantUnstartedRequest(stack.vault, 'restore', never, '2025-01-01T04:05:00Z');
    const answer = await stack.api('GET', `/api/restores/${never}`);
    expect(answer.status).toBe(404);
    expect(answer.body.error.title).toBe(`No restore '${never}'`);
  });
});
