import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import {
  ExtendedProperty,
  ImportOutcomeUnknownError,
  ImportSessionExpiredError,
  type GraphLogger,
  type MailboxClient,
  type ThrottleTally,
} from '../graph/index.js';
import { itemMetaOf } from '../backup/itemMeta.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { readImportBatch } from './plan.js';
import type { ImportSessionCache } from './sessions.js';
import type { ImportBatchResult, ImportOutcome, PlannedImport } from './types.js';
import { errorCode, MailboxVaultError } from '../errors.js';

export interface ImportBatchInput {
  restoreId: string;
  targetMailboxId: string;
  batch: number;
}

export interface ImportBatchSummary {
  batch: number;
  imported: number;
  alreadyImported: number;
  failed: number;
}

interface JournalEntry {
  sourceId: string;
  newItemId: string;
  changeKey: string;
  importedAt: string;
  recovered?: boolean;
}

export class ChecksumMismatchError extends MailboxVaultError {
  readonly code = 'ChecksumMismatch';
  constructor(blob: string) {
    super(`The stored item ${blob} does not match its SHA-256; it was not imported`);
  }
}

/**
 * Passes bytes through while hashing them; at the end a wrong SHA-256 or length fails the stream, which aborts
 * the import POST before its body is complete, so a damaged item is never imported.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private length = 0;

  constructor(
    private readonly expectedSha256: string,
    private readonly expectedLength: number,
    private readonly blob: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.length += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.length !== this.expectedLength || this.hash.digest('hex') !== this.expectedSha256)
      callback(new ChecksumMismatchError(this.blob));
    else callback();
  }
}

/** Attempts for one item: a refused session is renewed, an unknown outcome is checked before trying again. */
const MAX_ATTEMPTS = 4;

/**
 * Imports one planned batch into the target mailbox, item by item. Each item streams from its blob through a
 * SHA-256 check into the import POST. A journal entry (source item → new item) is written as each import
 * succeeds; items already journaled are skipped, so a retried or resumed restore never imports twice. When an
 * answer is lost after the POST, the target folder is searched for the item's search key before trying again.
 */
export async function importBatch(
  graph: MailboxClient,
  vault: VaultStore,
  sessions: ImportSessionCache,
  input: ImportBatchInput,
  logger?: GraphLogger,
): Promise<ImportBatchSummary> {
  const { restoreId, targetMailboxId, batch } = input;
  const planned = await readImportBatch(vault, restoreId, batch);
  const tally: ThrottleTally = { throttledResponses: 0, throttleWaitInMs: 0 };
  // This activity's own renewals (the session cache is shared by the process's concurrent batches).
  const renewed = { count: 0 };
  const outcomes: ImportOutcome[] = [];
  let bytesImported = 0;

  const findBySearchKey = async (item: PlannedImport): Promise<{ itemId: string; changeKey: string } | undefined> => {
    if (!item.searchKey) return undefined;
    for await (const listed of graph.listItems(targetMailboxId, item.targetFolderId, {
      extendedProperties: [ExtendedProperty.searchKey],
    })) {
      if (itemMetaOf(listed, item.targetFolderId).searchKey === item.searchKey)
        return { itemId: listed.id, changeKey: listed.changeKey ?? '' };
    }
    return undefined;
  };

  const journal = async (item: PlannedImport, created: { itemId: string; changeKey: string }, recovered: boolean) => {
    const entry: JournalEntry = {
      sourceId: item.sourceId,
      newItemId: created.itemId,
      changeKey: created.changeKey,
      importedAt: new Date().toISOString(),
      ...(recovered ? { recovered } : {}),
    };
    await vault.writeJson(layout.restoreJournal(restoreId, item.sourceId), entry);
  };

  for (const item of planned.items) {
    const done = await vault.readJson<JournalEntry>(layout.restoreJournal(restoreId, item.sourceId));
    if (done) {
      outcomes.push({ sourceId: item.sourceId, status: 'alreadyImported', newItemId: done.newItemId });
      continue;
    }
    let outcome: ImportOutcome | undefined;
    let uncertain = false;
    for (let attempt = 1; !outcome && attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        if (uncertain) {
          const found = await findBySearchKey(item);
          if (found) {
            await journal(item, found, true);
            outcome = { sourceId: item.sourceId, status: 'imported', newItemId: found.itemId, recovered: true };
            bytesImported += item.length;
            break;
          }
        }
        const session = await sessions.get(targetMailboxId, { renewed });
        try {
          const openData = (): Readable => {
            const verifying = new VerifyingStream(item.sha256, item.length, item.blob);
            void vault.openItemVersion(item.blob).then(
              (source) => {
                source.on('error', (error) => verifying.destroy(error));
                source.pipe(verifying);
              },
              (error: unknown) => verifying.destroy(error as Error),
            );
            return verifying;
          };
          const created = await graph.importItem(session, {
            folderId: item.targetFolderId,
            openData,
            length: item.length,
            tally,
          });
          await journal(item, created, false);
          outcome = { sourceId: item.sourceId, status: 'imported', newItemId: created.itemId };
          bytesImported += item.length;
        } catch (error) {
          if (error instanceof ImportSessionExpiredError) {
            sessions.invalidate(session, renewed);
            continue;
          }
          throw error;
        }
      } catch (error) {
        if (error instanceof ImportOutcomeUnknownError) {
          uncertain = true;
          logger?.warn(`importBatch ${batch}: ${error.message}; checking the target before trying again`);
          continue;
        }
        outcome = {
          sourceId: item.sourceId,
          status: 'failed',
          code: errorCode(error),
          message: (error as Error).message,
        };
      }
    }
    outcomes.push(
      outcome ?? {
        sourceId: item.sourceId,
        status: 'failed',
        code: 'ImportUnconfirmed',
        message: `Gave up after ${MAX_ATTEMPTS} attempts whose outcome could not be confirmed`,
      },
    );
  }

  // When this is a second run of the activity (it runs at least once), what the first run imported, the
  // throttling it met and the sessions it renewed were real too: they are added to, not written over (this run
  // finds the first run's imports in the journal and counts no bytes for them).
  const earlier = await vault.readJson<ImportBatchResult>(layout.restoreResult(restoreId, batch));
  const result: ImportBatchResult = {
    batch,
    outcomes,
    bytesImported: bytesImported + (earlier?.bytesImported ?? 0),
    // This activity's own imports only: concurrent batches on the same mailbox do not count each other's 429s.
    throttledResponses: tally.throttledResponses + (earlier?.throttledResponses ?? 0),
    throttleWaitInMs: tally.throttleWaitInMs + (earlier?.throttleWaitInMs ?? 0),
    sessionsRenewed: renewed.count + (earlier?.sessionsRenewed ?? 0),
  };
  await vault.writeJson(layout.restoreResult(restoreId, batch), result);
  return {
    batch,
    imported: outcomes.filter((o) => o.status === 'imported').length,
    alreadyImported: outcomes.filter((o) => o.status === 'alreadyImported').length,
    failed: outcomes.filter((o) => o.status === 'failed').length,
  };
}
