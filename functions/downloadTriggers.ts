import type { InvocationContext, Timer } from '@azure/functions';
import functions from '@azure/functions';
import { stagingConverterOf } from '../shared/download/converterFor.js';
import { sweepStagingMailbox } from '../shared/download/sweep.js';
import type { DownloadReport } from '../shared/download/types.js';
import { getServices } from '../shared/services.js';
import { layout } from '../shared/vault/layout.js';

/**
 * Every five minutes: remove leftovers from the staging mailbox (folders of downloads that ended or died, see
 * sweep.ts), and delete export files whose link has expired. Nothing to do without a staging mailbox.
 */
export async function sweepDownloads(_timer: Timer, context: InvocationContext): Promise<void> {
  const services = await getServices();
  if (!services.config.download.stagingMailbox) return;
  const converter = await stagingConverterOf(services);
  const now = new Date();
  const swept = await sweepStagingMailbox(services.graph, services.vault, converter, now);
  if (swept.deleted.length) context.log(`Staging sweep deleted ${swept.deleted.length} leftover folder(s)`);
  for await (const name of services.vault.listNames(layout.downloadsPrefix())) {
    if (!name.endsWith('/report.json')) continue;
    const report = await services.vault.readJson<DownloadReport>(name);
    if (report?.file && Date.parse(report.file.expiresAt) <= now.getTime())
      await services.vault.deleteIfExists(report.file.blob);
  }
}

// @azure/functions is CommonJS: Node's ESM loader reaches `app` through the default export.
functions.app.timer('sweepDownloads', { schedule: '0 */5 * * * *', handler: sweepDownloads });
