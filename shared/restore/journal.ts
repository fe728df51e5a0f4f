import { setTimeout as sleep } from 'node:timers/promises';
import { errorReason } from '../errors.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';

/** Written before each import POST: the item may be in the target from then on, until an outcome says so. */
export interface ImportIntent {
  sourceId: string;
  targetFolderId: string;
  searchKey?: string;
  /** Counts every POST of the item, across runs of its activity. */
  attempt: number;
  at: string;
  /**
   * When the item was first posted (absent in intents written before it was recorded): a copy any attempt made is
   * no older than that, which tells it from an original the target folder held before.
   */
  firstAt?: string;
}

/** Written once Exchange answered (or the target was found to hold the item): the item is imported. */
export interface JournalEntry {
  sourceId: string;
  newItemId: string;
  changeKey: string;
  importedAt: string;
  recovered?: boolean;
}

export interface RestoreJournalOptions {
  /** Tries of an outcome write before the item is reported imported with a warning instead. */
  outcomeWriteAttempts?: number;
  retryDelayInMs?: number;
}

/**
 * A restore's write-ahead journal in the vault: per source item, the intent to import it and the outcome. An
 * intent without an outcome means an earlier run may have imported the item; the importer looks for it in the
 * target before posting again.
 */
export class RestoreJournal {
  private readonly attempts: number;
  private readonly retryDelayInMs: number;

  constructor(
    private readonly vault: VaultStore,
    private readonly restoreId: string,
    options: RestoreJournalOptions = {},
  ) {
    this.attempts = options.outcomeWriteAttempts ?? 3;
    this.retryDelayInMs = options.retryDelayInMs ?? 200;
  }

  outcome(sourceId: string): Promise<JournalEntry | undefined> {
    return this.vault.readJson<JournalEntry>(layout.restoreJournal(this.restoreId, sourceId));
  }

  /** The batch's items that have an intent, by blob name: one listing instead of a read per item. */
  async intentsOf(batch: number): Promise<Set<string>> {
    const names = new Set<string>();
    for await (const name of this.vault.listNames(layout.restoreIntentsPrefix(this.restoreId, batch))) names.add(name);
    return names;
  }

  async intent(batch: number, sourceId: string, listed: Set<string>): Promise<ImportIntent | undefined> {
    const name = layout.restoreIntent(this.restoreId, batch, sourceId);
    return listed.has(name) ? this.vault.readJson<ImportIntent>(name) : undefined;
  }

  /** Throws when it cannot be written: nothing may be posted without it. */
  async recordIntent(batch: number, intent: ImportIntent): Promise<void> {
    await this.vault.writeJson(layout.restoreIntent(this.restoreId, batch, intent.sourceId), intent);
  }

  /**
   * Retried, because the item is already in the target. Returns the reason when every try failed: the caller
   * reports the item imported with a warning, and the intent remains, so a later run finds it by its search key.
   */
  async recordOutcome(entry: JournalEntry): Promise<string | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.vault.writeJson(layout.restoreJournal(this.restoreId, entry.sourceId), entry);
        return undefined;
      } catch (error) {
        if (attempt >= this.attempts) return errorReason(error);
        await sleep(this.retryDelayInMs * 2 ** (attempt - 1));
      }
    }
  }

  /** Whether an admin canceled the restore (the cancel API writes the marker before terminating it). */
  async canceled(): Promise<boolean> {
    return (await this.vault.readJson<unknown>(layout.restoreCanceled(this.restoreId))) !== undefined;
  }
}
