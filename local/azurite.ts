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
  /**
   * How often Azurite sweeps the extents no blob refers to any more (its default: every 10 minutes); `Infinity`:
   * never after its first, empty sweep. A sweep lists every blob, so with many blobs kept it costs seconds each
   * time: the benchmarks, which write much and delete little, turn it off.
   */
  gcIntervalMs?: number;
  /**
   * V8's old-space limit for Azurite's process, in MB (Node's default otherwise). Azurite keeps every blob's
   * metadata in its heap: a bench of a million blobs needs more than the default.
   */
  maxHeapMb?: number;
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
  const gcIntervalMs = Math.min(options.gcIntervalMs ?? DEFAULT_GC_INTERVAL_MS, MAX_TIMER_MS);
  const child: ChildProcess = spawn(
    process.execPath,
    [...heapArgs(options.maxHeapMb), ...azuriteArgs(port, options.location, gcIntervalMs)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
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
 * Sweep the dead extents every minute unless told otherwise: the tests' Azurite deletes as much as it writes (each
 * test file's containers), and a batched sweep of a minute's extents is short (`npm start`'s Azurite too).
 */
const DEFAULT_GC_INTERVAL_MS = 60_000;
/** The longest a Node timer waits (about 24.8 days); longer is "never" here. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function heapArgs(maxHeapMb: number | undefined): string[] {
  return maxHeapMb ? [`--max-old-space-size=${maxHeapMb}`] : [];
}

/** The installed Azurite's compiled sources (`dist/src`), which its process runs and the patches below reach into. */
export function azuriteSources(): string {
  return join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist', 'src');
}

function azuriteArgs(port: number, location: string | undefined, gcIntervalMs: number): string[] {
  const azuriteSrc = azuriteSources();
  return [
    '--import',
    azuritePatches(azuriteSrc, gcIntervalMs),
    join(azuriteSrc, 'blob', 'main.js'),
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
 * A module Azurite's process runs before Azurite, as a `data:` URL (Azurite has no options for these):
 * - the interval of its extent sweep (a constant its server reads when it starts the sweep, after this ran);
 * - the sweep's deletions in one batch. Azurite removes each dead extent from an indexed LokiJS collection on its
 *   own, and each removal makes LokiJS sort the whole index again before the next lookup: a sweep of a few
 *   thousand extents blocked Azurite's event loop for minutes and every client stalled (the kill sweep's app
 *   starts timed out; the 100,000-item and 2,000-mailbox benches stopped). Batched, a sweep sorts it once. The
 *   extents deleted belong to no blob, so nothing reads them before the batch runs (the next turn of the loop).
 * - blob lookups that stay fast among a million blobs. Azurite asks LokiJS for {accountName, containerName, name}
 *   in an order where LokiJS's index narrows by the account every blob shares: each delete examined every blob,
 *   and removed it in a way that flags every index to be sorted again before the next lookup (616 ms a delete
 *   at 100,000 blobs; most likely why the million-item bench's commit never finished). Here a lookup that names
 *   a blob (or a block's blob) narrows by that name first, a prefix listing takes the name index's range of that
 *   prefix, and a delete of a few blobs removes them from each index in place (1.4 ms at 100,000 blobs). Same
 *   answers: the query is the same conjunction, the range only narrows what the prefix pattern still filters.
 * Azurite's version is pinned by package-lock.json; test/local/azuriteSweep.test.ts and azuriteLookups.test.ts
 * check that these still apply.
 */
export function azuritePatches(azuriteSrc: string, gcIntervalMs: number): string {
  const constants = JSON.stringify(join(azuriteSrc, 'blob', 'utils', 'constants.js'));
  const extentMetadata = JSON.stringify(join(azuriteSrc, 'common', 'persistence', 'LokiExtentMetadataStore.js'));
  const source = `
    import { createRequire } from 'node:module';
    const require = createRequire(${constants});
    require(${constants}).DEFAULT_GC_INTERVAL_MS = ${gcIntervalMs};
    const { Resultset } = require('lokijs');
    const findInOrder = Resultset.prototype.find;
    const LITERAL_PREFIX = /^\\^(?:[^-\\/\\\\^$*+?.()|[\\]{}]|\\\\[-\\/\\\\^$*+?.()|[\\]{}])*$/;
    const nameRange = (name) => {
      const pattern = name?.$regex;
      if (typeof pattern !== 'string' || !LITERAL_PREFIX.test(pattern)) return undefined;
      const prefix = pattern.slice(1).replace(/\\\\(.)/g, '$1');
      // LokiJS sorts names that read as numbers before all others; a name with a slash never does, so the names
      // with this prefix are the index's range in plain string order.
      if (!prefix.includes('/')) return undefined;
      return { name: { $between: [prefix, prefix + '\\uffff'] } };
    };
    Resultset.prototype.find = function findSelectiveFirst(query, firstOnly) {
      if (!query || typeof query !== 'object' || Object.keys(query).length < 2)
        return findInOrder.call(this, query, firstOnly);
      const range = nameRange(query.name);
      const each = () => Object.entries(query).map(([key, value]) => ({ [key]: value }));
      if (range) return findInOrder.call(this, { $and: [range, ...each()] }, firstOnly);
      const lead = ['blobName', 'name'].find((key) => typeof query[key] === 'string');
      return findInOrder.call(this, lead ? { [lead]: query[lead], ...query } : query, firstOnly);
    };
    const removeInBatch = Resultset.prototype.remove;
    Resultset.prototype.remove = function removeOneByOne() {
      if (!this.filterInitialized || this.filteredrows.length > 16) return removeInBatch.call(this);
      const docs = this.filteredrows.map((position) => this.collection.data[position]);
      for (const doc of docs) this.collection.remove(doc);
      this.filteredrows = [];
      return this;
    };
    const store = require(${extentMetadata}).default.prototype;
    if (typeof store.deleteExtent !== 'function') throw new Error('Azurite changed: no deleteExtent to batch');
    const pending = new WeakMap();
    store.deleteExtent = function deleteExtentInBatch(id) {
      let ids = pending.get(this);
      if (!ids) {
        ids = new Set();
        pending.set(this, ids);
        setImmediate(() => {
          pending.delete(this);
          this.db.getCollection(this.EXTENTS_COLLECTION).removeWhere((doc) => ids.has(doc.id));
        });
      }
      ids.add(id);
      return Promise.resolve();
    };`;
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/** Polls the blob endpoint until it answers; fails when Azurite exits or after 60 seconds (a loaded machine). */
async function waitUntilAnswering(child: ChildProcess, blobEndpoint: string, port: number, stderr: () => string) {
  const deadline = Date.now() + 60_000;
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
