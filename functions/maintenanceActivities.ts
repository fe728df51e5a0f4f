import { writeMaintenanceReport } from '../shared/maintenance/report.js';
import {
  expireMaintenanceArtifacts,
  listMaintenanceMailboxes,
  pruneMaintenanceMailbox,
  readMaintenanceMailboxes,
  verifyMaintenanceMailbox,
} from '../shared/maintenance/run.js';
import { getServices } from '../shared/services.js';
import { emitMaintenanceTelemetry } from '../shared/telemetry.js';
import { layout } from '../shared/vault/layout.js';
import * as contracts from './contracts.js';
import { durableClientOf, instanceExists, instanceHasEnded, registerActivity } from './durable.js';

registerActivity(contracts.listVaultMailboxes, async (input) => {
  const { vault } = await getServices();
  // The backfill's settle window is between two passes' own clocks: a run's start can be hours before it runs (a
  // timer that fired late stands for its scheduled time), and would shorten the window after it.
  return { count: await listMaintenanceMailboxes(vault, input.id, input.mailboxKeys, new Date()) };
});

registerActivity(
  contracts.pruneVaultMailbox,
  async (input, context) => {
    const { config, vault } = await getServices();
    const client = durableClientOf(context);
    const exists = (instanceId: string) => instanceExists(client, instanceId);
    return pruneMaintenanceMailbox(vault, config, input, input.prune!.dryRun, exists);
  },
  { durableClient: true },
);

registerActivity(
  contracts.expireRunArtifacts,
  async (input, context) => {
    const { config, vault } = await getServices();
    const client = durableClientOf(context);
    const durable = {
      hasEnded: (instanceId: string) => instanceHasEnded(client, instanceId),
      orchestrationExists: (instanceId: string) => instanceExists(client, instanceId),
    };
    return expireMaintenanceArtifacts(vault, config, input, input.prune!.dryRun, durable);
  },
  { durableClient: true },
);

registerActivity(contracts.verifyVaultMailbox, async (input) => {
  const { config, vault } = await getServices();
  return verifyMaintenanceMailbox(vault, config, input, input.verify!.mode);
});

registerActivity(contracts.writeMaintenanceReport, async (input, context) => {
  const { vault } = await getServices();
  const report = await writeMaintenanceReport(vault, {
    ...input,
    mailboxKeys: await readMaintenanceMailboxes(vault, input.id),
  });
  emitMaintenanceTelemetry(report, { info: (m) => context.log(m), warn: (m) => context.warn(m) });
  return { status: report.status, reportBlob: layout.maintenanceReport(input.id) };
});
