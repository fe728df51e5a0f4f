import { isStatus } from './restStatus.js';
import type { VaultStore } from './vaultStore.js';
import { hookedWrite } from './writeFaults.js';

/** Tries before giving up on a record many writers update at once (each conflict costs a read and a write). */
const MAX_TRIES = 50;

/**
 * Read-modify-write of a small JSON record that several workers update: the write is conditional on the ETag
 * the read saw (or on the blob being absent), and a conflict reads it again. `change` returns the new value and
 * the answer; it may run several times, so it must not have side effects.
 */
export async function updateJson<T, R>(
  vault: VaultStore,
  blobName: string,
  initial: () => T,
  change: (current: T) => { next: T; answer: R } | { answer: R; next?: undefined },
): Promise<R> {
  const blob = vault.container.getBlockBlobClient(blobName);
  for (let tries = 1; ; tries++) {
    let current = initial();
    let etag: string | undefined;
    try {
      // One GET: the body and the ETag of that very version.
      const response = await blob.download();
      etag = response.etag;
      current = JSON.parse((await text(response.readableStreamBody)) || 'null') as T;
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    const { next, answer } = change(current);
    if (next === undefined) return answer;
    const body = JSON.stringify(next);
    try {
      await hookedWrite({ op: 'putConditional', blobName }, () =>
        blob.upload(body, Buffer.byteLength(body), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
          conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
        }),
      );
      return answer;
    } catch (error) {
      if (!isStatus(error, 409, 412) || tries >= MAX_TRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * Math.min(tries, 10)));
    }
  }
}

async function text(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
