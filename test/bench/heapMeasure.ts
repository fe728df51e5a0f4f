import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { VaultStore } from '../../shared/vault/vaultStore.js';
import { sharedAzurite } from './harness.js';

/** LIVE_HEAP=1: the heap benches measure what is held (see `heapOf`), not what the heap reaches with garbage. */
export const LIVE_HEAP = process.env.LIVE_HEAP === '1';

/**
 * Peak heap above the heap after a GC while `work` runs, sampled every 20 ms; with `live` (LIVE_HEAP=1 by default),
 * a forced GC before each sample (every 250 ms), so that the peak is what is held, not garbage. Needs
 * `node --expose-gc`.
 */
export async function heapOf<T>(
  work: () => Promise<T>,
  options: { live?: boolean } = { live: LIVE_HEAP },
): Promise<{ result: T; peakBytes: number; ms: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('Run with node --expose-gc');
  gc();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const started = Date.now();
  const sample = () => (peak = Math.max(peak, process.memoryUsage().heapUsed));
  const timer = options.live ? setInterval(() => (gc(), sample()), 250) : setInterval(sample, 20);
  try {
    const result = await work();
    sample();
    return { result, peakBytes: peak - base, ms: Date.now() - started };
  } finally {
    clearInterval(timer);
  }
}

/** A `heapOf` measurement as the heap benches print it: per item, the peak in MiB, and the time it took. */
export function heapFigures(measured: { peakBytes: number; ms: number }, items: number) {
  return {
    heapPerItemBytes: Math.round(measured.peakBytes / items),
    peakHeapMiB: +(measured.peakBytes / 2 ** 20).toFixed(1),
    ms: measured.ms,
  };
}

/** A vault container of its own on the benchmarks' Azurite. */
export async function heapBenchVault(): Promise<VaultStore> {
  const azurite = await sharedAzurite();
  const vault = new VaultStore(
    BlobServiceClient.fromConnectionString(azurite.connectionString),
    `heap-${randomBytes(4).toString('hex')}`,
  );
  await vault.ensureContainer();
  return vault;
}
