import {
  ImportOutcomeUnknownError,
  ImportRedirectedError,
  ImportSessionExpiredError,
  MAX_REDIRECT_HOPS,
  type GraphLogger,
  type MailboxClient,
  type ThrottleTally,
} from '../graph/index.js';
import { errorCode } from '../errors.js';
import { SEARCH_KEY_PROPERTY, searchKeyOf } from '../mailbox/index.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { readImportBatch } from './plan.js';
import type { ImportSessionCache } from './sessions.js';
import type { ImportBatchResult, ImportOutcome, PlannedImport } from './types.js';
import { openVerifiedItem } from './verifyingStream.js';

export { ChecksumMismatchError, VerifyingStream } from './verifyingStream.js';

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

interface CreatedItem {
  itemId: string;
  changeKey: string;
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
  const planned = await readImportBatch(vault, input.restoreId, input.batch);
  const importer = new BatchImporter(graph, vault, sessions, input, logger);
  const outcomes: ImportOutcome[] = [];
  for (const item of planned.items) outcomes.push(await importer.importOnce(item));
  await importer.writeResult(outcomes);
  const count = (status: ImportOutcome['status']) => outcomes.filter((o) => o.status === status).length;
  return {
    batch: input.batch,
    imported: count('imported'),
    alreadyImported: count('alreadyImported'),
    failed: count('failed'),
  };
}

/** One import activity: its items' attempts, and what it counts for the report. */
class BatchImporter {
  private readonly tally: ThrottleTally = { throttledResponses: 0, throttleWaitInMs: 0 };
  /** This activity's own renewals (the session cache is shared by the process's concurrent batches). */
  private readonly renewed = { count: 0 };
  private bytesImported = 0;
  /** Archive folders whose content lives in an auxiliary mailbox: the mailbox whose session takes their items. */
  private readonly importMailboxOf = new Map<string, string>();

  constructor(
    private readonly graph: MailboxClient,
    private readonly vault: VaultStore,
    private readonly sessions: ImportSessionCache,
    private readonly input: ImportBatchInput,
    private readonly logger: GraphLogger | undefined,
  ) {}

  /** An item imported at most once: skipped when journaled, checked in the target after a lost answer. */
  async importOnce(item: PlannedImport): Promise<ImportOutcome> {
    const done = await this.vault.readJson<JournalEntry>(layout.restoreJournal(this.input.restoreId, item.sourceId));
    if (done) return { sourceId: item.sourceId, status: 'alreadyImported', newItemId: done.newItemId };
    let uncertain = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        const found = uncertain ? await this.findBySearchKey(item) : undefined;
        if (found) return await this.imported(item, found, true);
        const created = await this.post(item);
        if (created) return await this.imported(item, created, false);
      } catch (error) {
        if (!(error instanceof ImportOutcomeUnknownError)) {
          return {
            sourceId: item.sourceId,
            status: 'failed',
            code: errorCode(error),
            message: (error as Error).message,
          };
        }
        uncertain = true;
        this.logger?.warn(`importBatch ${this.input.batch}: ${error.message}; checking the target before trying again`);
      }
    }
    return {
      sourceId: item.sourceId,
      status: 'failed',
      code: 'ImportUnconfirmed',
      message: `Gave up after ${MAX_ATTEMPTS} attempts whose outcome could not be confirmed`,
    };
  }

  /**
   * One import POST; undefined when the session was refused (it is renewed for the next attempt). An archive
   * folder whose content lives in an auxiliary mailbox answers 409 naming that mailbox: nothing was imported,
   * and the item goes through a session of that mailbox (as do the folder's next items).
   */
  private async post(item: PlannedImport): Promise<CreatedItem | undefined> {
    const folderId = item.targetFolderId;
    for (let hops = 0; ; hops++) {
      const mailboxId = this.importMailboxOf.get(folderId) ?? this.input.targetMailboxId;
      const session = await this.sessions.get(mailboxId, { renewed: this.renewed });
      try {
        return await this.graph.importItem(session, {
          folderId,
          openData: () => openVerifiedItem(this.vault, item),
          length: item.length,
          tally: this.tally,
        });
      } catch (error) {
        if (error instanceof ImportRedirectedError && hops < MAX_REDIRECT_HOPS) {
          this.importMailboxOf.set(folderId, error.mailboxId);
          continue;
        }
        if (!(error instanceof ImportSessionExpiredError)) throw error;
        this.sessions.invalidate(session, this.renewed);
        return undefined;
      }
    }
  }

  private async imported(item: PlannedImport, created: CreatedItem, recovered: boolean): Promise<ImportOutcome> {
    const entry: JournalEntry = {
      sourceId: item.sourceId,
      newItemId: created.itemId,
      changeKey: created.changeKey,
      importedAt: new Date().toISOString(),
      ...(recovered ? { recovered } : {}),
    };
    await this.vault.writeJson(layout.restoreJournal(this.input.restoreId, item.sourceId), entry);
    this.bytesImported += item.length;
    return {
      sourceId: item.sourceId,
      status: 'imported',
      newItemId: created.itemId,
      ...(recovered ? { recovered: true } : {}),
    };
  }

  private async findBySearchKey(item: PlannedImport): Promise<CreatedItem | undefined> {
    if (!item.searchKey) return undefined;
    const listing = this.graph.listItems(this.input.targetMailboxId, item.targetFolderId, {
      extendedProperties: [SEARCH_KEY_PROPERTY],
    });
    for await (const listed of listing) {
      if (searchKeyOf(listed) === item.searchKey) return { itemId: listed.id, changeKey: listed.changeKey ?? '' };
    }
    return undefined;
  }

  /**
   * When this is a second run of the activity (it runs at least once), what the first run imported, the
   * throttling it met and the sessions it renewed were real too: they are added to, not written over (this run
   * finds the first run's imports in the journal and counts no bytes for them).
   */
  async writeResult(outcomes: ImportOutcome[]): Promise<void> {
    const { restoreId, batch } = this.input;
    const earlier = await this.vault.readJson<ImportBatchResult>(layout.restoreResult(restoreId, batch));
    const result: ImportBatchResult = {
      batch,
      outcomes,
      bytesImported: this.bytesImported + (earlier?.bytesImported ?? 0),
      // This activity's own imports only: concurrent batches on the same mailbox do not count each other's 429s.
      throttledResponses: this.tally.throttledResponses + (earlier?.throttledResponses ?? 0),
      throttleWaitInMs: this.tally.throttleWaitInMs + (earlier?.throttleWaitInMs ?? 0),
      sessionsRenewed: this.renewed.count + (earlier?.sessionsRenewed ?? 0),
    };
    await this.vault.writeJson(layout.restoreResult(restoreId, batch), result);
  }
}
