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
 * (infra/app/audit-storage.bicep), and the app's role there reads, creates and appends (`blobs/read`,
 * `blobs/add/action`) but has neither `blobs/write` nor `blobs/delete`: it can write no blob that exists, only add
 * to it, so not even once a record's retention has run out can the app overwrite or delete it. This class works
 * within that role: it appends, creates a blob only when the append finds none (If-None-Match: *), and has no way
 * to overwrite or delete; nothing else in the app is given the container.
 */
export class AuditTrail {
  constructor(private readonly container: ContainerClient) {}

  /** Local runs (Azurite) create the container; in Azure the deployment declares it with its policy. */
  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  async append(record: AuditRecord): Promise<void> {
    const blob = this.container.getAppendBlobClient(auditBlobName(new Date(record.at)));
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    try {
      await blob.appendBlock(line, line.length);
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    // The hour's first record: its blob is created, only if absent (If-None-Match: *, never over one that exists).
    // Another process may have created it since the append found none. A create over an existing blob needs
    // `blobs/write`, which the role lacks, so it may be refused for that (403 AuthorizationPermissionMismatch, as
    // Azurite refuses it under a SAS granting create and add) or as a conflict with the blob or its retention (a
    // 409 other than BlobAlreadyExists) rather than found existing: the append then tells whether it is there.
    let refused: unknown;
    try {
      await blob.createIfNotExists({ blobHTTPHeaders: { blobContentType: 'application/x-ndjson' } });
    } catch (error) {
      if (statusOf(error) !== 403 && statusOf(error) !== 409) throw error;
      refused = error;
    }
    try {
      await blob.appendBlock(line, line.length);
    } catch (error) {
      throw refused !== undefined && statusOf(error) === 404 ? refused : error;
    }
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

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
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
