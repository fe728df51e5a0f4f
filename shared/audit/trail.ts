import type { ContainerClient } from '@azure/storage-blob';
import type { AuditRecord } from './record.js';

/** An hour's records share one append blob: at most 50,000 appends per blob, so 50,000 mutating calls an hour. */
export function auditBlobName(at: Date): string {
  const iso = at.toISOString();
  return `records/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}.ndjson`;
}

/**
 * The audit trail: records appended, one JSON line each, to append blobs in a container of their own. In Azure
 * the container has a time-based retention policy that allows protected append writes
 * (infra/app/audit-storage.bicep), and the app's role there can read, create and append but not delete: an
 * existing record can be neither changed nor removed. So this class only creates a blob when absent and appends;
 * it has no way to overwrite or delete, and nothing else in the app is given the container.
 */
export class AuditTrail {
  constructor(private readonly container: ContainerClient) {}

  /** Local runs (Azurite) create the container; in Azure the deployment declares it with its policy. */
  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  async append(record: AuditRecord): Promise<void> {
    const blob = this.container.getAppendBlobClient(auditBlobName(new Date(record.at)));
    // If-None-Match: * — creating never replaces a blob that exists (another process may have made it).
    await blob.createIfNotExists({ blobHTTPHeaders: { blobContentType: 'application/x-ndjson' } });
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    await blob.appendBlock(line, line.length);
  }

  /** Records from `since` to `until`, oldest first, at most `limit` (the newest of them when there are more). */
  async read(since: Date, until: Date, limit: number): Promise<{ records: AuditRecord[]; truncated: boolean }> {
    const records: AuditRecord[] = [];
    for (const name of await this.blobsBetween(since, until)) {
      const buffer = await this.container.getAppendBlobClient(name).downloadToBuffer();
      for (const line of buffer.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        const record = JSON.parse(line) as AuditRecord;
        const at = Date.parse(record.at);
        if (at >= since.getTime() && at <= until.getTime()) records.push(record);
      }
    }
    records.sort((a, b) => a.at.localeCompare(b.at));
    return { records: records.slice(-limit), truncated: records.length > limit };
  }

  private async blobsBetween(since: Date, until: Date): Promise<string[]> {
    const first = auditBlobName(since);
    const last = auditBlobName(until);
    const names: string[] = [];
    for (const prefix of dayPrefixes(since, until))
      for await (const blob of this.container.listBlobsFlat({ prefix }))
        if (blob.name >= first && blob.name <= last) names.push(blob.name);
    return names.sort();
  }
}

function dayPrefixes(since: Date, until: Date): string[] {
  const prefixes: string[] = [];
  const day = new Date(Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate()));
  while (day <= until) {
    prefixes.push(auditBlobName(day).slice(0, 'records/yyyy/mm/dd/'.length));
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return prefixes;
}
