import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant, SimTenant, startSimulator, type Simulator } from '../../local/simulator/index.js';
import type { RestoreReport } from '../../shared/restore/types.js';
import { startHostProcess, waitForRun, type HostProcess } from '../support/hostProcesses.js';
import { azuriteConnectionString } from '../support/vault.js';

/**
 * Two Function instances (two local hosts in processes of their own, on one vault and one simulator) restore
 * into the same target mailbox at once. Exchange's limits are per mailbox, so they must hold in total, asserted
 * on the simulator's record of what arrived when: never more than 4 requests in flight, no window of the upload
 * budget's length (wherever it starts) receiving more than the budget, and no 429. The budget is scaled to
 * 300 KB per 3 s, well under what the two restores would upload unchecked, so they cross many windows held back
 * by it; the app is told exactly that: its ledger counts an upload's bytes from before they can arrive until after
 * they have (docs/scale.md), so no tolerance is needed.
 */
const SOURCES = ['ada@contoso.example', 'bob@contoso.example'];
const TARGET = 'target@contoso.example';
const BUDGET = { bytes: 300 * 1024, windowMs: 3_000 };
const ITEMS = 12;

let sim: Simulator;
let hosts: HostProcess[] = [];

beforeAll(async () => {
  // Items of 100 to 160 KB of request body, without the rare outlier many times larger: an upload larger than
  // the whole budget cannot be held under it (it goes alone, once nothing else counts).
  const tenant = new SimTenant({ seed: 7, inflation: { min: 1.15, max: 1.35, outlierRate: 0, outlierFactor: 1 } });
  seedTenant(tenant, {
    mailboxes: [
      ...SOURCES.map((upn) => ({ upn, items: ITEMS, sizes: [60_000, 90_000] as [number, number] })),
      { upn: TARGET, items: 1 },
    ],
  });
  sim = await startSimulator({ tenant, latencyMs: 10, limits: { uploadBudget: BUDGET } });
  // The simulator's budget, told to the app as a rate in its own unit (MB per 5 minutes) and the window's length.
  const mbPer5Min = (BUDGET.bytes / BUDGET.windowMs) * (300_000 / (1024 * 1024));
  const env = {
    MAILBOX_VAULT_GRAPH_BASE_URL: sim.baseUrl,
    MAILBOX_VAULT_GRAPH_CREDENTIAL: 'staticToken',
    MAILBOX_VAULT_GRAPH_STATIC_TOKEN: sim.demoToken,
    MAILBOX_VAULT_STORAGE_CONNECTION_STRING: azuriteConnectionString(),
    MAILBOX_VAULT_CONTAINER: `vault-${randomBytes(6).toString('hex')}`,
    MAILBOX_VAULT_SCOPE_USERS: [...SOURCES, TARGET].join(','),
    MAILBOX_VAULT_GRAPH_RETRY_BASE_MS: '5',
    MAILBOX_VAULT_GRAPH_LOG: 'quiet',
    MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: String(mbPer5Min),
    MAILBOX_VAULT_GRAPH_UPLOAD_WINDOW_MS: String(BUDGET.windowMs),
  };
  hosts = await Promise.all([startHostProcess(env), startHostProcess(env)]);
  const backup = await hosts[0]!.api('POST', '/api/backups', { mailboxes: SOURCES });
  expect((await waitForRun(hosts[0]!, `/api/backups/${backup.body.id}`)).status).toBe('Completed');
}, 180_000);

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await sim?.close();
});

/** The most bytes the simulator received in any window of `windowMs` (each window starting at an arrival). */
function mostBytesInAnyWindow(uploads: Array<{ at: number; bytes: number }>, windowMs: number): number {
  let most = 0;
  let sum = 0;
  let first = 0;
  for (let last = 0; last < uploads.length; last++) {
    sum += uploads[last]!.bytes;
    while (uploads[last]!.at - uploads[first]!.at >= windowMs) sum -= uploads[first++]!.bytes;
    most = Math.max(most, sum);
  }
  return most;
}

describe('two instances restoring into one mailbox', () => {
  it('hold its 4 requests in flight and its upload budget in total, without a 429', async () => {
    const target = sim.tenant.mailbox(TARGET);
    sim.throttle.resetCounters();
    const started = await Promise.all(
      SOURCES.map((source, i) =>
        hosts[i]!.api('POST', '/api/restores', { sourceMailbox: source, targetMailbox: TARGET }),
      ),
    );
    for (const s of started) expect(s.status).toBe(202);
    const finished = await Promise.all(
      started.map((s, i) => waitForRun(hosts[i]!, `/api/restores/${s.body.id}`, 170_000)),
    );
    for (const run of finished) {
      expect(run.status).toBe('Completed');
      expect((run.report as RestoreReport).counts).toMatchObject({ imported: ITEMS, failed: 0 });
    }
    const counters = sim.throttle.countersFor(target.id);
    const received = counters.uploads.reduce((sum, u) => sum + u.bytes, 0);
    // Enough bytes to cross the budget more than once, so a process holding it alone would overrun it.
    expect(received).toBeGreaterThan(2 * BUDGET.bytes);
    const busiestWindow = mostBytesInAnyWindow(counters.uploads, BUDGET.windowMs);
    const span = counters.uploads.at(-1)!.at - counters.uploads[0]!.at;
    console.warn(
      `most bytes in any ${BUDGET.windowMs} ms: ${busiestWindow} of ${BUDGET.bytes}; ${received} bytes in ${span} ms`,
    );
    expect(counters.maxInFlight).toBeLessThanOrEqual(4);
    expect(busiestWindow).toBeLessThanOrEqual(BUDGET.bytes);
    expect(counters.throttled).toBe(0);

    // What holding the limits together cost: Blob requests of the slots' leases and the upload ledger. Waiting for
    // the budget costs a read of the ledger per look (counted apart: this budget is a few items' worth, so the
    // restores wait for it all along; the real one is thousands of items' worth).
    const outputs = await Promise.all(hosts.map((h) => h.stop()));
    hosts = [];
    const costs = outputs.map((o) => JSON.parse(/shared limits (\{.*\})/.exec(o)![1]!) as Record<string, number>);
    const sum = (count: (c: Record<string, number>) => number) => costs.reduce((total, c) => total + count(c), 0);
    const waiting = sum((c) => c.reservationsRefused!);
    const requests = sum((c) => c.leaseAcquires! + c.leaseRenewals! + c.leaseReleases! + c.ledgerRequests!) - waiting;
    const imports = counters.importPosts;
    console.warn(
      `shared limits: ${JSON.stringify(costs)}; ${(requests / imports).toFixed(2)} Blob requests per import, and ${(waiting / imports).toFixed(2)} ledger reads waiting for the budget`,
    );
    expect(requests / imports).toBeLessThan(10);
  }, 180_000);
});
