import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';
import { mboxStream, type MboxMessage } from './mbox.js';
import { readDownloadBatch } from './plan.js';
import type { DownloadBatchResult, DownloadFormat } from './types.js';
import { emlFileName, zipStream, type ZipEntry } from './zip.js';

interface ConvertedItem {
  sourceId: string;
  subject?: string;
  date: Date;
}

/** The converted items in plan order (each at most once, however often its batch ran). */
async function* convertedItems(
  vault: VaultStore,
  downloadId: string,
  batchCount: number,
): AsyncGenerator<ConvertedItem> {
  const seen = new Set<string>();
  for (let batch = 0; batch < batchCount; batch++) {
    const planned = await readDownloadBatch(vault, downloadId, batch);
    const result = await vault.readJson<DownloadBatchResult>(layout.downloadResult(downloadId, batch));
    const converted = new Set(result?.outcomes.filter((o) => o.status === 'converted').map((o) => o.sourceId));
    for (const item of planned.items) {
      if (!converted.has(item.sourceId) || seen.has(item.sourceId)) continue;
      seen.add(item.sourceId);
      yield {
        sourceId: item.sourceId,
        ...(item.subject !== undefined ? { subject: item.subject } : {}),
        date: new Date(item.receivedDateTime ?? Date.now()),
      };
    }
  }
}

async function openEml(vault: VaultStore, downloadId: string, sourceId: string): Promise<Readable> {
  const opened = await vault.openBlob(layout.downloadEml(downloadId, sourceId));
  if (!opened) throw new Error(`The converted item ${layout.downloadEml(downloadId, sourceId)} is missing`);
  return opened.stream;
}

/**
 * Writes the export file into the vault from the converted items' EMLs, streamed end to end (one EML open at a
 * time): one mboxrd file, or a ZIP of EML files. Returns its size. Running it again writes the same file again.
 */
export async function assembleDownload(
  vault: VaultStore,
  input: { downloadId: string; format: DownloadFormat; batchCount: number },
): Promise<{ blob: string; bytes: number; items: number }> {
  const { downloadId, format, batchCount } = input;
  let items = 0;
  const source = convertedItems(vault, downloadId, batchCount);
  let file: Readable;
  if (format === 'mbox') {
    file = mboxStream(
      (async function* (): AsyncGenerator<MboxMessage> {
        for await (const item of source) {
          items++;
          yield { date: item.date, open: () => openEml(vault, downloadId, item.sourceId) };
        }
      })(),
    );
  } else {
    file = zipStream(
      (async function* (): AsyncGenerator<ZipEntry> {
        for await (const item of source) {
          yield {
            name: emlFileName(items++, item.subject),
            mtime: item.date,
            open: () => openEml(vault, downloadId, item.sourceId),
          };
        }
      })(),
    );
  }
  let bytes = 0;
  const counting = new PassThrough();
  counting.on('data', (chunk: Buffer) => (bytes += chunk.length));
  const blob = layout.downloadFile(downloadId, format);
  const contentType = format === 'mbox' ? 'application/mbox' : 'application/zip';
  await Promise.all([pipeline(file, counting), vault.writeStream(blob, counting, contentType)]);
  return { blob, bytes, items };
}
