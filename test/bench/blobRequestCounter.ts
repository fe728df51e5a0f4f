/**
 * Counts the requests this process sends to the Blob endpoint, by kind (Put Blob, Get Blob, Put Block, …),
 * through Node's `http.client.request.start` diagnostics channel: every HTTP client here is node:http
 * underneath, and nothing is put in the requests' way, so the timings measured beside it stand. Blob Storage
 * bills by the request (retries included, and they are counted), so this is what a night costs in storage
 * transactions. Requests to the local host's task hub container are left out: they are the Durable task hub's,
 * billed to the Functions host's storage account, not the vault's.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

export interface BlobRequestCounter {
  /** Requests since the last `reset`, by kind, and their total. */
  counts(): { total: number; byKind: Record<string, number> };
  reset(): void;
  stop(): void;
}

/** "PUT blob", "GET blob", "PUT block", "GET list", … from the method and the `comp` / `restype` parameters. */
function kindOf(method: string, path: string): string {
  const query = new URLSearchParams(path.split('?')[1] ?? '');
  return `${method} ${query.get('comp') ?? query.get('restype') ?? 'blob'}`;
}

export function startBlobRequestCounter(connectionString: string): BlobRequestCounter {
  const endpoint = /BlobEndpoint=(https?:\/\/[^;]+)/.exec(connectionString)?.[1];
  if (!endpoint) throw new Error('the connection string names no BlobEndpoint');
  const blobHost = new URL(endpoint).host;
  let byKind: Record<string, number> = {};
  const onRequest = (message: unknown) => {
    const { request } = message as { request: ClientRequest };
    if (request.getHeader('host') !== blobHost) return;
    // The local host's task hub shares the Azurite; in Azure it is the Functions host's own storage account.
    if (request.path.includes('-taskhub')) return;
    const kind = kindOf(request.method, request.path);
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  };
  subscribe('http.client.request.start', onRequest);
  return {
    counts: () => ({ total: Object.values(byKind).reduce((a, b) => a + b, 0), byKind: { ...byKind } }),
    reset: () => (byKind = {}),
    stop: () => unsubscribe('http.client.request.start', onRequest),
  };
}
