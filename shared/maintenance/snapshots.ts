import { layout } from '../vault/layout.js';
import type { SnapshotRecord } from '../vault/records.js';
import type { VaultStore } from '../vault/vaultStore.js';

/**
 * A mailbox's commit records, by mailbox key, in the order the vault lists them. Maintenance walks the vault
 * without knowing mailbox ids, so the catalog's listSnapshots (by id, sorted) does not serve it.
 */
export async function readSnapshotRecords(vault: VaultStore, mailboxKey: string): Promise<SnapshotRecord[]> {
  const records: SnapshotRecord[] = [];
  for await (const name of vault.listNames(layout.byKey.snapshots(mailboxKey))) {
    if (!name.endsWith('.json')) continue;
    const record = await vault.readJson<SnapshotRecord>(name);
    if (record) records.push(record);
  }
  return records;
}
