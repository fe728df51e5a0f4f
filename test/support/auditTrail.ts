import { randomBytes } from 'node:crypto';
import {
  BlobServiceClient,
  ContainerClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  type StorageSharedKeyCredential,
} from '@azure/storage-blob';
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

/**
 * A fresh audit container on Azurite (`owner`, every right), and the same container as seen through a SAS of
 * `permissions` only. With `rcal` (read, create, add, list) it stands in for the app's role on the audit account
 * in Azure, `blobs/read` and `blobs/add/action` (infra/app/audit-storage.bicep): Azurite lets it create a blob
 * that does not exist and append to one, and refuses (403) any write over an existing blob (Put Blob, a create
 * even with If-None-Match: *, metadata) and any delete, as a SAS without write and delete must.
 */
export async function auditContainerThrough(
  connectionString: string,
  permissions: string,
): Promise<{ owner: ContainerClient; limited: ContainerClient }> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const owner = service.getContainerClient(`audit-${randomBytes(6).toString('hex')}`);
  await owner.create();
  const sas = generateBlobSASQueryParameters(
    {
      containerName: owner.containerName,
      permissions: ContainerSASPermissions.parse(permissions),
      expiresOn: new Date(Date.now() + 3_600_000),
    },
    service.credential as StorageSharedKeyCredential,
  );
  return { owner, limited: new ContainerClient(`${owner.url}?${sas.toString()}`) };
}
