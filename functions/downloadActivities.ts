import { assembleDownload } from '../shared/download/assemble.js';
import { convertDownloadBatch } from '../shared/download/convertBatch.js';
import { stagingConverterOf } from '../shared/download/converterFor.js';
import { planDownload } from '../shared/download/plan.js';
import { finishDownload } from '../shared/download/report.js';
import type { DownloadRequest } from '../shared/download/types.js';
import { getServices } from '../shared/services.js';
import { layout } from '../shared/vault/layout.js';
import * as contracts from './contracts.js';
import { registerActivity } from './durable.js';

registerActivity(contracts.planDownload, async (input) => {
  const services = await getServices();
  const request = await services.vault.readJson<DownloadRequest>(layout.downloadRequest(input.downloadId));
  if (!request) throw new Error(`No download '${input.downloadId}'`);
  const summary = await planDownload(services.vault, await stagingConverterOf(services), request);
  await services.vault.writeJson(layout.downloadPlanSummary(input.downloadId), summary);
  return summary;
});

registerActivity(contracts.convertDownloadBatch, async (input) => {
  const services = await getServices();
  return convertDownloadBatch(services.vault, await stagingConverterOf(services), input);
});

registerActivity(contracts.assembleDownload, async (input) => {
  const { vault } = await getServices();
  return assembleDownload(vault, input);
});

registerActivity(contracts.finishDownload, async (input) => {
  const services = await getServices();
  // Without a staging mailbox there is no folder to delete; the report still says how the export ended.
  const converter = await stagingConverterOf(services).catch(() => undefined);
  const report = await finishDownload(services.vault, converter, input, services.config.download.linkLifetimeInMs);
  return { downloadId: report.downloadId, status: report.status, counts: report.counts };
});
