import type { ContainerClient } from '@azure/storage-blob';
import type { AuditRecord } from '../../shared/audit/record.js';

/** Every record of the audit trail's container (one JSON record per line of its append blobs), oldest first. */
export async function readAuditTrail(audit: ContainerClient): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const blob of audit.listBlobsFlat()) {
    const text = (await audit.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n')) if (line) records.push(JSON.parse(line) as AuditRecord);
  }
  return records.sort((a, b) => a.at.localeCompare(b.at));
}
