import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DownloadReport } from '../../shared/download/types.js';
import { keyOf } from '../../shared/vault/layout.js';
import { runBackup, startStack, type Stack } from '../support/stack.js';

/**
 * Every download imports into the one staging mailbox, so they share its upload budget. Scaled down here to
 * 1 MB per second in the simulator, and told to the app as three quarters of that (as in uploadPacing.test.ts:
 * pacing can only spread uploads out, so a busy machine makes this easier, never harder).
 */
const SOURCE = 'erin@contoso.example';
const STAGING = 'staging@contoso.example';
const BUDGET = { bytes: 1_000_000, windowMs: 1_000 };
/** 0.75 MB/s as the app's setting, in MB (2^20 bytes) per 5 minutes. */
const APP_MB_PER_5_MIN = String(Math.floor((BUDGET.bytes * 0.75 * 300) / 1024 / 1024));
let stack: Stack;

beforeAll(async () => {
  stack = await startStack(
    {
      mailboxes: [
        { upn: SOURCE, items: 0 },
        { upn: STAGING, kind: 'shared', items: 0 },
      ],
    },
    {
      simulator: { limits: { uploadBudget: BUDGET } },
      settings: {
        MAILBOX_VAULT_STAGING_MAILBOX: STAGING,
        MAILBOX_VAULT_SCOPE_USERS: SOURCE,
        MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: APP_MB_PER_5_MIN,
        // The staging mailbox's budget is a ledger of one window's bytes, held across instances: its window scaled too.
        MAILBOX_VAULT_GRAPH_UPLOAD_WINDOW_MS: String(BUDGET.windowMs),
      },
    },
  );
  const source = stack.sim.tenant.mailbox(SOURCE);
  const folder = stack.sim.tenant.ensureFolderPath(source, 'Inbox/Board');
  for (let i = 0; i < 20; i++) stack.sim.tenant.addItem(source, folder.id, { size: 150_000, type: 'IPM.Note' });
  await runBackup(stack);
}, 120_000);
afterAll(() => stack.close());

it('two exports at once share the staging mailbox’s upload budget: queued, never throttled, all converted', async () => {
  const body = (format: string) => ({ sourceMailbox: SOURCE, folders: ['Inbox/Board'], format });
  const started = await Promise.all([
    stack.api('POST', '/api/downloads', body('mbox')),
    stack.api('POST', '/api/downloads', body('zip')),
  ]);
  for (const s of started) expect(s.status).toBe(202);
  for (const s of started) await stack.app.host.waitForCompletion(s.body.id);
  for (const s of started) {
    const report = (await stack.api('GET', `/api/downloads/${s.body.id}`)).body.report as DownloadReport;
    expect(report.counts).toMatchObject({ converted: 20, failed: 0 });
  }
  const counters = stack.sim.throttle.countersFor(stack.sim.tenant.mailbox(STAGING).id);
  // More than one window's worth went up, and Exchange never had to say 429.
  expect(counters.importedBytes).toBeGreaterThan(BUDGET.bytes * 2);
  expect(counters.throttled).toBe(0);
  // Held in total across instances: the staging mailbox's uploads went through its ledger in the vault.
  const stagingKey = keyOf(stack.sim.tenant.mailbox(STAGING).id);
  expect(await stack.vault.readJson(`limits/${stagingKey}/upload-ledger.json`)).toBeDefined();
}, 120_000);
