import { BlobServiceClient } from '@azure/storage-blob';
import { createHash } from 'node:crypto';

/**
 * The baseline: export the way the API's own samples do it. One exportItems call at a time, the whole response
 * read and parsed in memory, each item's base64 turned into one Buffer, then uploaded. No streaming.
 */
export async function naiveExport(options: {
  baseUrl: string;
  token: string;
  mailboxId: string;
  itemIds: string[];
  connectionString: string;
  container: string;
}): Promise<{ items: number; bytes: number }> {
  const container = BlobServiceClient.fromConnectionString(options.connectionString).getContainerClient(
    options.container,
  );
  await container.createIfNotExists();
  let items = 0;
  let bytes = 0;
  for (let i = 0; i < options.itemIds.length; i += 20) {
    const response = await fetch(
      `${options.baseUrl}/v1.0/admin/exchange/mailboxes/${encodeURIComponent(options.mailboxId)}/exportItems`,
      {
        method: 'POST',
        headers: { Authorization: `Bearer ${options.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ itemIds: options.itemIds.slice(i, i + 20) }),
      },
    );
    // The samples do not look further: an answer that is not 200 (a 504 for a batch over 100 MB) ends the export.
    if (!response.ok)
      throw new Error(`exportItems answered ${response.status} ${(await response.text()).slice(0, 120)}`);
    const body = (await response.json()) as { value: Array<{ itemId: string; data?: string }> };
    for (const item of body.value) {
      if (!item.data) continue;
      const data = Buffer.from(item.data, 'base64');
      const sha = createHash('sha256').update(data).digest('hex');
      await container.getBlockBlobClient(`naive/${sha}`).upload(data, data.length);
      items++;
      bytes += data.length;
    }
  }
  return { items, bytes };
}
