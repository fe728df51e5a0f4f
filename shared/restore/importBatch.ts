import {
  ImportOutcomeUnknownError,
  ImportRedirectedError,
  ImportSessionExpiredError,
  MAX_REDIRECT_HOPS,
  type GraphLogger,
  type MailboxClient,
  type ThrottleTally,
} from '../graph/index.js';
import { errorCode, errorReason } from '../errors.js';
import { SEARCH_KEY_PROPERTY, searchKeyOf } from '../mailbox/index.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { RestoreJournal, type JournalEntry } from './journal.js';
import { readImportBatch } from './plan.js';
import { ImportSettle, type ImportClock } from './importSettle.js';
import type { ImportSessionCache } from './sessions.js';
import type { ImportBatchResult, ImportOutcome, ImportWarning, PlannedImport, RestoreRequest } from './types.js';
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
  canceled: number;
}

/** How the importer waits for an import whose outcome is unknown (importSettle.ts), and where it logs. */
export interface ImportBatchOptions {
  settleInMs: number;
  clock?: ImportClock;
  logger?: GraphLogger;
}

interface CreatedItem {
  itemId: string;
  changeKey: string;
}

/** The vault refused an intent: the activity fails (Durable retries it) rather than post without one. */
class IntentNotRecordedError extends Error {
  constructor(cause: unknown) {
    super(`The import intent could not be written to the vault: ${errorReason(cause)}`, { cause });
  }
}

/** Attempts for one item: a refused session is renewed, an unknown outcome is checked before trying again. */
const MAX_ATTEMPTS = 4;

const CANCELED_MESSAGE = 'The restore was canceled before this item was imported';

/**
 * Imports one planned batch into the target mailbox, item by item, write-ahead: an intent (item, folder, search
 * key, attempt) is written before each import POST, the outcome (source item → new item) once Exchange answers.
 * Items with an outcome are skipped; an item with an intent but no outcome (a worker died after posting it) or
 * whose answer was lost is first looked for in the target folder by its search key, once Exchange has had the
 * settling time to commit it (importSettle.ts). So a retried or resumed restore never imports twice. Each item streams from its blob through a SHA-256 check into the POST. The batch
 * stops at the next item once the restore is canceled.
 */
export async function importBatch(
  graph: MailboxClient,
  vault: VaultStore,
  sessions: ImportSessionCache,
  input: ImportBatchInput,
  options: ImportBatchOptions,
): Promise<ImportBatchSummary> {
  const { logger } = options;
  const settle = new ImportSettle(options.settleInMs, options.clock);
  const planned = await readImportBatch(vault, input.restoreId, input.batch);
  const journal = new RestoreJournal(vault, input.restoreId);
  const intents = await journal.intentsOf(input.batch);
  const request = await vault.readJson<RestoreRequest>(layout.restoreRequest(input.restoreId));
  // Only a second copy into the items' own folders (or a chosen one) can meet an original with the same search key.
  const originalsMayBeThere = request?.collisions === 'copy' && request.destination.mode !== 'newFolder';
  const importer = new BatchImporter(
    graph,
    vault,
    journal,
    intents,
    sessions,
    input,
    settle,
    logger,
    originalsMayBeThere,
  );
  const outcomes: ImportOutcome[] = [];
  let canceled = false;
  for (const item of planned.items) {
    // One small read per item: a cancel stops a running batch after the import in flight, not after the batch.
    canceled ||= await journal.canceled();
    if (canceled)
      outcomes.push({ sourceId: item.sourceId, status: 'failed', code: 'Canceled', message: CANCELED_MESSAGE });
    else outcomes.push(await importer.importOnce(item));
  }
  if (canceled) logger?.info(`importBatch ${input.batch}: the restore was canceled; stopped before the next item`);
  await importer.writeResult(outcomes);
  const count = (status: ImportOutcome['status']) => outcomes.filter((o) => o.status === status).length;
  const canceledItems = outcomes.filter((o) => o.status === 'failed' && o.code === 'Canceled').length;
  return {
    batch: input.batch,
    imported: count('imported'),
    alreadyImported: count('alreadyImported'),
    failed: count('failed') - canceledItems,
    canceled: canceledItems,
  };
}

/** When an item was first posted; null when an intent from before it was recorded leaves it unknown. */
type FirstPosted = string | null | undefined;

/** How far Exchange's clock may be behind ours when it stamps an imported item's `createdDateTime`. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** One import activity: its items' attempts, and what it counts for the report. */
class BatchImporter {
  private readonly tally: ThrottleTally = { throttledResponses: 0, throttleWaitInMs: 0 };
  /** This activity's own renewals (the session cache is shared by the process's concurrent batches). */
  private readonly renewed = { count: 0 };
  /** Bytes of the items this run imported, by source item (a re-run does not count an item twice). */
  private readonly bytesOf = new Map<string, number>();
  /** Archive folders whose content lives in an auxiliary mailbox: the mailbox whose session takes their items. */
  private readonly importMailboxOf = new Map<string, string>();

  constructor(
    private readonly graph: MailboxClient,
    private readonly vault: VaultStore,
    private readonly journal: RestoreJournal,
    /** Intents earlier runs of this batch left (blob names). */
    private readonly intents: Set<string>,
    private readonly sessions: ImportSessionCache,
    private readonly input: ImportBatchInput,
    private readonly settle: ImportSettle,
    private readonly logger: GraphLogger | undefined,
    /** The target folders may hold the originals of the items restored: a match found there may be one. */
    private readonly originalsMayBeThere: boolean,
  ) {}

  /** An item imported at most once: skipped when journaled, looked for in the target when it may be there. */
  async importOnce(item: PlannedImport): Promise<ImportOutcome> {
    const done = await this.journal.outcome(item.sourceId);
    if (done) return { sourceId: item.sourceId, status: 'alreadyImported', newItemId: done.newItemId };
    const earlier = await this.journal.intent(this.input.batch, item.sourceId, this.intents);
    let attempt = earlier?.attempt ?? 0;
    // Null when an earlier attempt's intent did not record it (its `at` is the last attempt's): unknown for good.
    let firstPostedAt = earlier ? (earlier.firstAt ?? null) : undefined;
    // An earlier run posted this item and recorded no outcome: it may be in the target already, or land there yet.
    let unknownSince = earlier ? this.settle.unknownSinceEarlierRun() : undefined;
    if (earlier)
      this.logger?.warn(`importBatch ${this.input.batch}: an earlier run's import of an item has no outcome`);
    for (let tries = 1; tries <= MAX_ATTEMPTS; tries++) {
      try {
        const found =
          unknownSince !== undefined ? await this.findSettled(item, firstPostedAt, unknownSince) : undefined;
        if (found) return await this.imported(item, found, true);
        attempt++;
        firstPostedAt = await this.recordIntent(item, attempt, firstPostedAt);
        const created = await this.post(item);
        if (created) return await this.imported(item, created, false, unknownSince !== undefined && !item.searchKey);
      } catch (error) {
        if (error instanceof IntentNotRecordedError) throw error;
        if (!(error instanceof ImportOutcomeUnknownError)) {
          return {
            sourceId: item.sourceId,
            status: 'failed',
            code: errorCode(error),
            message: (error as Error).message,
          };
        }
        unknownSince = this.settle.now();
        this.logger?.warn(`importBatch ${this.input.batch}: ${error.message}; checking the target before trying again`);
      }
    }
    // The last attempt's outcome is unknown too: one more look once it has settled, before giving the item up.
    const landed = unknownSince === undefined ? undefined : await this.lastLook(item, firstPostedAt, unknownSince);
    if (landed) return await this.imported(item, landed, true);
    return {
      sourceId: item.sourceId,
      status: 'failed',
      code: 'ImportUnconfirmed',
      message: `Gave up after ${MAX_ATTEMPTS} attempts whose outcome could not be confirmed`,
    };
  }

  /**
   * Without its intent in the vault nothing is posted: the activity fails, and Durable runs it again. Returns
   * when the item was first posted (this attempt, if it is the first).
   */
  private async recordIntent(item: PlannedImport, attempt: number, firstAt: FirstPosted): Promise<FirstPosted> {
    const at = new Date(this.settle.now()).toISOString();
    const first = firstAt === null ? null : (firstAt ?? at);
    try {
      await this.journal.recordIntent(this.input.batch, {
        sourceId: item.sourceId,
        targetFolderId: item.targetFolderId,
        ...(item.searchKey ? { searchKey: item.searchKey } : {}),
        attempt,
        at,
        ...(first ? { firstAt: first } : {}),
      });
    } catch (error) {
      throw new IntentNotRecordedError(error);
    }
    return first;
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

  /** The item is in the target: a journal write that fails now does not make it a failed item. */
  private async imported(
    item: PlannedImport,
    created: CreatedItem,
    recovered: boolean,
    possibleDuplicate = false,
  ): Promise<ImportOutcome> {
    const entry: JournalEntry = {
      sourceId: item.sourceId,
      newItemId: created.itemId,
      changeKey: created.changeKey,
      importedAt: new Date().toISOString(),
      ...(recovered ? { recovered } : {}),
    };
    const unwritten = await this.journal.recordOutcome(entry);
    this.bytesOf.set(item.sourceId, item.length);
    let warning: ImportWarning | undefined;
    if (unwritten) {
      this.logger?.warn(
        `importBatch ${this.input.batch}: an imported item's journal entry was not written: ${unwritten}`,
      );
      warning = {
        code: 'JournalNotWritten',
        message: item.searchKey
          ? `Imported, but its journal entry could not be written (${unwritten}); a retry finds it by its search key`
          : `Imported, but its journal entry could not be written (${unwritten}); it has no search key, so a retry could import it again`,
      };
    } else if (possibleDuplicate) {
      warning = {
        code: 'PossibleDuplicate',
        message: 'An earlier attempt may have imported it, and without a search key the target could not be checked',
      };
    }
    return {
      sourceId: item.sourceId,
      status: 'imported',
      newItemId: created.itemId,
      ...(recovered ? { recovered: true } : {}),
      ...(warning ? { warning } : {}),
    };
  }

  /** The copy an attempt whose outcome is unknown made, looked for once Exchange has had time to commit it. */
  private async findSettled(
    item: PlannedImport,
    firstPostedAt: FirstPosted,
    unknownSince: number,
  ): Promise<CreatedItem | undefined> {
    if (!item.searchKey) return undefined;
    await this.settle.waitFor(unknownSince);
    return this.findBySearchKey(item, item.searchKey, firstPostedAt);
  }

  /** A last search after the attempts ran out: a listing that fails leaves the item unconfirmed, not failed apart. */
  private async lastLook(
    item: PlannedImport,
    firstPostedAt: FirstPosted,
    unknownSince: number,
  ): Promise<CreatedItem | undefined> {
    try {
      return await this.findSettled(item, firstPostedAt, unknownSince);
    } catch (error) {
      this.logger?.warn(`importBatch ${this.input.batch}: the last look for an item failed: ${errorReason(error)}`);
      return undefined;
    }
  }

  /**
   * The copy an earlier attempt made, by the item's search key, which import keeps. Where the original may be in
   * the folder too (a second copy asked for in the item's own folder), an item created before the first attempt
   * (less the clocks' skew) is not the copy: import gives the copy a new `createdDateTime` (field-notes.md).
   */
  private async findBySearchKey(
    item: PlannedImport,
    searchKey: string,
    firstPostedAt: FirstPosted,
  ): Promise<CreatedItem | undefined> {
    const notBefore =
      this.originalsMayBeThere && firstPostedAt ? Date.parse(firstPostedAt) - CLOCK_SKEW_MS : Number.NEGATIVE_INFINITY;
    const listing = this.graph.listItems(this.input.targetMailboxId, item.targetFolderId, {
      extendedProperties: [SEARCH_KEY_PROPERTY],
    });
    for await (const listed of listing) {
      if (searchKeyOf(listed) !== searchKey) continue;
      if (listed.createdDateTime && Date.parse(listed.createdDateTime) < notBefore) continue;
      return { itemId: listed.id, changeKey: listed.changeKey ?? '' };
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
    // An item the earlier run imported but could not journal is found again by this run: its bytes count once.
    const counted = new Set(earlier?.outcomes.filter((o) => o.status === 'imported').map((o) => o.sourceId));
    let bytes = 0;
    for (const [sourceId, length] of this.bytesOf) if (!counted.has(sourceId)) bytes += length;
    const result: ImportBatchResult = {
      batch,
      outcomes,
      bytesImported: bytes + (earlier?.bytesImported ?? 0),
      // This activity's own imports only: concurrent batches on the same mailbox do not count each other's 429s.
      throttledResponses: this.tally.throttledResponses + (earlier?.throttledResponses ?? 0),
      throttleWaitInMs: this.tally.throttleWaitInMs + (earlier?.throttleWaitInMs ?? 0),
      sessionsRenewed: this.renewed.count + (earlier?.sessionsRenewed ?? 0),
    };
    await this.vault.writeJson(layout.restoreResult(restoreId, batch), result);
  }
}
