import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

/** Azurite's well-known development account (public, documented; not a secret). */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Folder for its data; in memory when absent. */
  location?: string;
  /** 0 picks a free port. */
  blobPort?: number;
}

export interface RunningAzurite {
  connectionString: string;
  blobEndpoint: string;
  /** Its process id (benchmarks read its CPU time). */
  pid: number | undefined;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts Azurite's blob service from the npm package and waits until it answers. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const port = options.blobPort || (await freePort());
  if (options.location) mkdirSync(options.location, { recursive: true });
  const child: ChildProcess = spawn(process.execPath, azuriteArgs(port, options.location), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const blobEndpoint = `http://127.0.0.1:${port}/${DEV_ACCOUNT}`;
  await waitUntilAnswering(child, blobEndpoint, port, () => stderr);
  return {
    pid: child.pid,
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobEndpoint};`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * How often Azurite sweeps unreferenced extents (its default: every 10 minutes). A sweep removes them one by one
 * from an indexed LokiJS collection, each removal costing time in proportion to all extents, and blocks Azurite's
 * event loop while it runs: after ten minutes of writes and overwrites (the task hub, the tests' containers) that
 * is minutes without an answer, and every client stalls. Frequent sweeps stay short.
 */
export const AZURITE_GC_INTERVAL_MS = 60_000;

function azuriteArgs(port: number, location: string | undefined): string[] {
  const require = createRequire(import.meta.url);
  const blobRoot = join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob');
  const main = join(blobRoot, 'main.js');
  return [
    '--import',
    gcIntervalPreload(join(blobRoot, 'utils', 'constants.js'), AZURITE_GC_INTERVAL_MS),
    main,
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(port),
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
    '--disableTelemetry',
    ...(location ? ['--location', location] : ['--inMemoryPersistence']),
  ];
}

/**
 * A module run before Azurite's own that sets its GC interval: Azurite has no option for it, and its server reads
 * the constant when it starts the GC (a default parameter), after this has run.
 */
function gcIntervalPreload(constantsModule: string, intervalMs: number): string {
  const path = JSON.stringify(constantsModule);
  const source = `import { createRequire } from 'node:module'; createRequire(${path})(${path}).DEFAULT_GC_INTERVAL_MS = ${intervalMs};`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/** Polls the blob endpoint until it answers; fails when Azurite exits or after 30 seconds. */
async function waitUntilAnswering(child: ChildProcess, blobEndpoint: string, port: number, stderr: () => string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Azurite exited (${child.exitCode}): ${stderr().trim()}`);
    try {
      const response = await fetch(`${blobEndpoint}?comp=list`);
      if (response.status > 0) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`Azurite did not start on port ${port}: ${stderr().trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
