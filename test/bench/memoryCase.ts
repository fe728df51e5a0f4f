/**
 * One memory case in a process of its own, so its peak RSS is the work's and nothing else's. Prints one JSON line.
 * argv: <case: export | restore | naive> ; settings come through the environment (see main.ts).
 */
import { appEnv, peakRss, sharedAzurite, stopAzurite, type SimulatorProcess } from './harness.js';
import { backup, restore, withApp } from './app.js';
import { naiveExport } from './naiveExport.js';

async function main(): Promise<void> {
  const kind = process.argv[2];
  const sim: SimulatorProcess = {
    baseUrl: process.env.BENCH_SIM_URL!,
    token: process.env.BENCH_SIM_TOKEN!,
    mailboxIds: JSON.parse(process.env.BENCH_MAILBOX_IDS!) as Record<string, string>,
    control: async () => undefined,
    counters: async () => ({}),
    stop: async () => undefined,
  };
  const source = process.env.BENCH_SOURCE!;
  const target = process.env.BENCH_TARGET!;
  const extra = JSON.parse(process.env.BENCH_SETTINGS ?? '{}') as Record<string, string>;
  // The simulator's upload budget is lifted for this case (memory, not pacing, is measured), and so is the app's.
  // The restore's target is in scope (the restore policy refuses one that is not); the export backs up the source only.
  const env = await appEnv(sim, kind === 'restore' ? [source, target] : [source], {
    MAILBOX_VAULT_GRAPH_UPLOAD_MB_PER_5_MIN: '0',
    ...extra,
    MAILBOX_VAULT_STORAGE_CONNECTION_STRING: process.env.BENCH_AZURITE!,
    MAILBOX_VAULT_CONTAINER: process.env.BENCH_CONTAINER!,
  });
  let out: Record<string, unknown>;
  if (kind === 'naive') {
    const ids = JSON.parse(process.env.BENCH_ITEM_IDS!) as string[];
    const { result, peakRssBytes, startRssBytes } = await peakRss(() =>
      naiveExport({
        baseUrl: sim.baseUrl,
        token: sim.token,
        mailboxId: sim.mailboxIds[source]!,
        itemIds: ids,
        connectionString: process.env.BENCH_AZURITE!,
        container: `${process.env.BENCH_CONTAINER!}-naive`,
      }),
    );
    out = { kind, peakRssBytes, startRssBytes, items: result.items, bytes: result.bytes };
  } else {
    out = await withApp(env, async (app) => {
      if (kind === 'export') {
        const { result, peakRssBytes, startRssBytes } = await peakRss(() => backup(app));
        return {
          kind,
          peakRssBytes,
          startRssBytes,
          items: result.report.totals.itemsExported,
          bytes: result.report.totals.bytesExported,
          status: result.report.status,
        };
      }
      // The vault was written by the export case, in this same container, by an earlier process.
      const { result, peakRssBytes, startRssBytes } = await peakRss(() =>
        restore(app, { sourceMailbox: source, targetMailbox: target, collisions: 'copy' }),
      );
      return {
        kind,
        peakRssBytes,
        startRssBytes,
        items: result.report.counts.imported,
        bytes: result.report.bytesImported,
        status: result.report.status,
      };
    });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await stopAzurite();
  process.exit(0);
}

void sharedAzurite;
main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
