import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { MailboxClient } from '../graph/index.js';
import { parseStagingFolderName, type StagingConverter } from './staging.js';

/** A staging folder older than this, whose download shows no sign of life, is a leftover. */
export const STAGING_STALE_AFTER_MS = 10 * 60_000;

export interface SweepResult {
  deleted: string[];
  kept: string[];
}

/**
 * Removes leftovers from the staging mailbox: folders of downloads that ended (or died: a crashed worker runs no
 * clean-up) more than a few minutes ago. A folder is kept while it is young, or while its export is still
 * converting (its heartbeat is recent and it has no report yet). Only folders named as staging folders are
 * touched. Deleting a folder deletes whatever is still in it.
 */
export async function sweepStagingMailbox(
  graph: MailboxClient,
  vault: VaultStore,
  converter: StagingConverter,
  now: Date,
  staleAfterMs = STAGING_STALE_AFTER_MS,
): Promise<SweepResult> {
  const result: SweepResult = { deleted: [], kept: [] };
  for await (const folder of graph.listFolders(converter.staging.mailboxId)) {
    const named = parseStagingFolderName(folder.displayName ?? '');
    if (!named) continue;
    const stale = now.getTime() - named.createdAt.getTime() > staleAfterMs;
    if (stale && !(await stillConverting(vault, named.downloadId, now, staleAfterMs))) {
      await converter.deleteFolder(folder.id);
      result.deleted.push(folder.displayName);
    } else result.kept.push(folder.displayName);
  }
  return result;
}

/** An export with no report whose heartbeat is recent; a single item's download never lasts this long. */
async function stillConverting(vault: VaultStore, downloadId: string, now: Date, staleAfterMs: number) {
  if (!downloadId.startsWith('download-')) return false;
  if (await vault.readJson(layout.downloadReport(downloadId))) return false;
  const heartbeat = await vault.readJson<{ at: string }>(layout.downloadHeartbeat(downloadId));
  return heartbeat !== undefined && now.getTime() - Date.parse(heartbeat.at) <= staleAfterMs;
}
