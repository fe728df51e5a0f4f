/**
 * A pass-through HTTP proxy in front of Azurite that counts the requests the app makes, by kind (Put Blob,
 * Get Blob, Put Block, listing, …). Blob Storage bills by the request, so this is what a night costs in
 * storage transactions. It runs in the bench's process: use it only where that process's CPU is not measured.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BlobRequestCounter {
  /** The app's connection string, pointed at the proxy. */
  connectionString: string;
  /** Requests since the last `reset`, by kind, and their total. */
  counts(): { total: number; byKind: Record<string, number> };
  reset(): void;
  close(): Promise<void>;
}

/** "PUT blob", "GET blob", "PUT block", "GET list", … from the method and the `comp` / `restype` parameters. */
function kindOf(method: string, url: URL): string {
  const operation = url.searchParams.get('comp') ?? url.searchParams.get('restype') ?? 'blob';
  return `${method} ${operation}`;
}

export async function startBlobRequestCounter(connectionString: string): Promise<BlobRequestCounter> {
  const endpoint = /BlobEndpoint=(http:\/\/[^;]+)/.exec(connectionString)?.[1];
  if (!endpoint) throw new Error('the connection string names no http BlobEndpoint');
  const target = new URL(endpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let byKind: Record<string, number> = {};
  const server = http.createServer((request, response) => {
    const kind = kindOf(request.method ?? 'GET', new URL(request.url ?? '/', 'http://proxy'));
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    const upstream = http.request({ host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers, agent }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', (error) => response.destroy(error));
    request.pipe(upstream);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    connectionString: connectionString.replace(endpoint, `http://127.0.0.1:${port}${target.pathname.replace(/\/$/, '')}`),
    counts: () => ({ total: Object.values(byKind).reduce((a, b) => a + b, 0), byKind: { ...byKind } }),
    reset: () => (byKind = {}),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
