import { packBySizeStream } from '../packing.js';
import { ExternalSorter, type SortedRecords, type SortOptions } from '../vault/externalSort.js';
import { writeIndexedNdjsonStream, type IndexedNdjsonFile } from '../vault/indexedNdjson.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import type { ResolvedItem } from './planMerge.js';
import type { ChangeRecord, PlannedBatch, PlannedItem } from './types.js';

/** What the plan holds, for the summary. */
export interface PlanTotals {
  batchCount: number;
  itemsToExport: number;
  reportedBytesToExport: number;
}

/**
 * The run's item records, sorted through the vault in folder order (the order of the folder tree), then item id,
 * and written twice: as the change list after its per-folder records, and as the plan's batches of the new
 * versions to export. Memory: the sort's budget and one batch.
 */
export class PlanOutput {
  private readonly sorter: ExternalSorter<ResolvedItem>;
  private sealed: SortedRecords<ResolvedItem> | undefined;
  /** New or changed versions listed, and removals, as the change list holds them. */
  changedItems = 0;
  removedItems = 0;

  constructor(
    private readonly vault: VaultStore,
    private readonly input: {
      runId: string;
      mailboxId: string;
      folderIds: string[];
      sortIn: (part: string) => SortOptions;
    },
  ) {
    const order = new Map(input.folderIds.map((id, index) => [id, String(index).padStart(6, '0')]));
    const last = String(input.folderIds.length).padStart(6, '0');
    const folderOf = ({ record }: ResolvedItem) => (record.kind === 'upsert' ? record.item.folderId : record.folderId);
    const idOf = ({ record }: ResolvedItem) => (record.kind === 'upsert' ? record.item.id : record.id);
    this.sorter = new ExternalSorter<ResolvedItem>(
      input.sortIn('changes'),
      (item) => `${order.get(folderOf(item)) ?? last}\u0000${idOf(item)}`,
    );
  }

  async add(item: ResolvedItem): Promise<void> {
    if (item.record.kind === 'remove') this.removedItems++;
    else if (!item.record.known) this.changedItems++;
    await this.sorter.add(item);
  }

  /** The change list: the given records (folders, per-folder notes), then every item record. */
  async writeChangeList(head: ChangeRecord[]): Promise<void> {
    const items = await this.items();
    async function* records(): AsyncGenerator<ChangeRecord> {
      yield* head;
      for await (const { record } of items.read()) yield record;
    }
    await this.vault.writeNdjsonGz(layout.runChanges(this.input.runId, this.input.mailboxId), records());
  }

  /** The plan: the versions to export in batches of at most N ids and a reported-size budget. */
  async writePlan(
    file: IndexedNdjsonFile,
    settings: { maxItemsPerBatch: number; batchReportedBytes: number },
    planVersion: string,
  ): Promise<PlanTotals> {
    const items = await this.items();
    const totals: PlanTotals = { batchCount: 0, itemsToExport: 0, reportedBytesToExport: 0 };
    async function* planned(): AsyncGenerator<PlannedItem> {
      for await (const { record, planned } of items.read()) {
        if (!planned || record.kind !== 'upsert') continue;
        const { id, folderId, changeKey, size } = record.item;
        totals.itemsToExport++;
        totals.reportedBytesToExport += size;
        yield { id, folderId, changeKey, size };
      }
    }
    async function* batches(): AsyncGenerator<PlannedBatch> {
      const packed = packBySizeStream(planned(), settings.maxItemsPerBatch, settings.batchReportedBytes, (i) => i.size);
      for await (const items of packed) yield { batch: totals.batchCount++, items };
    }
    await writeIndexedNdjsonStream(this.vault, file, batches(), planVersion);
    return totals;
  }

  async discard(): Promise<void> {
    await this.sorter.discard();
  }

  private async items(): Promise<SortedRecords<ResolvedItem>> {
    this.sealed ??= await this.sorter.seal();
    return this.sealed;
  }
}
