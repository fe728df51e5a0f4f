import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { convertDownloadBatch } from '../../shared/download/convertBatch.js';
import { HEARTBEAT_EVERY_MS } from '../../shared/download/heartbeat.js';
import { downloadPlanFile } from '../../shared/download/plan.js';
import type { StagingConverter } from '../../shared/download/staging.js';
import { STAGING_STALE_AFTER_MS } from '../../shared/download/sweep.js';
import type { PlannedDownloadBatch } from '../../shared/download/types.js';
import { writeIndexedNdjson } from '../../shared/vault/indexedNdjson.js';
import { layout } from '../../shared/vault/layout.js';
import { freshVault } from '../support/vault.js';

/**
 * The staging sweep deletes a staging folder whose download shows no sign of life for ten minutes. A batch waiting
 * its turn on the staging mailbox's shared upload budget can take longer than that: it must go on saying it is
 * alive, or the sweep deletes its folder under it and the rest of the export fails.
 */

const DOWNLOAD = 'download-20261204T010000Z-0a0b0c0d';
const MINUTES_PER_ITEM = 4;

afterEach(() => vi.useRealTimers());

describe("a download's batch that takes longer than the sweep's patience", () => {
  it('writes its heartbeat as it goes, at most once a minute', async () => {
    const { vault } = await freshVault('heartbeat');
    const items = Array.from({ length: 4 }, (_, i) => ({
      sourceId: `item-${i}`,
      blob: `mailboxes/m/items/${i}`,
      sha256: '0'.repeat(64),
      length: 10,
      folderPath: 'Inbox',
    }));
    await writeIndexedNdjson(vault, downloadPlanFile(DOWNLOAD), [{ batch: 0, items } satisfies PlannedDownloadBatch]);
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.parse('2026-12-04T01:00:00Z');
    vi.setSystemTime(start);
    const beats: string[] = [];
    const write = vault.writeJson.bind(vault);
    vi.spyOn(vault, 'writeJson').mockImplementation(async (name, value, options) => {
      if (name === layout.downloadHeartbeat(DOWNLOAD)) beats.push((value as { at: string }).at);
      return write(name, value, options);
    });
    // Each item waits four minutes on the budget. The beat before the first item, within a minute of the batch's
    // own, writes nothing.
    const converter = {
      clearFolder: async () => 0,
      stage: async (_folderId: string, item: { sourceId: string }) => {
        vi.setSystemTime(Date.now() + MINUTES_PER_ITEM * 60_000);
        return `staged-${item.sourceId}`;
      },
      openMime: async () => ({
        messageId: 'read-id',
        idPath: 'rest',
        body: Readable.from([Buffer.from('Subject: x\r\n\r\nbody\r\n')]),
        release: () => undefined,
      }),
      discard: async () => undefined,
    } as unknown as StagingConverter;

    expect(
      await convertDownloadBatch(vault, converter, { downloadId: DOWNLOAD, batch: 0, stagingFolderId: 'f' }),
    ).toMatchObject({ converted: 4, failed: 0 });
    const minutes = beats.map((at) => (Date.parse(at) - start) / 60_000);
    expect(minutes).toEqual([0, 4, 8, 12]);
    // Never as long without a sign of life as the sweep waits for one.
    expect(MINUTES_PER_ITEM * 60_000).toBeLessThan(STAGING_STALE_AFTER_MS);
    expect(HEARTBEAT_EVERY_MS).toBeLessThan(STAGING_STALE_AFTER_MS / 2);
  });
});
