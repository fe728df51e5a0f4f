import type { Services } from '../services.js';
import { resolveStagingMailbox, StagingConverter } from './staging.js';

const converters = new WeakMap<Services, Promise<StagingConverter>>();

/**
 * The process's converter for the configured staging mailbox (its mailbox id read once). Throws
 * StagingMailboxNotConfigured when no staging mailbox is set.
 */
export function stagingConverterOf(services: Services): Promise<StagingConverter> {
  let converter = converters.get(services);
  if (!converter) {
    converter = resolveStagingMailbox(services.graph, services.config.download.stagingMailbox).then((staging) => {
      // Every instance's downloads import into this one mailbox: its limits are held in total, as a restore target's.
      services.graph.shareLimitsAcrossInstances(staging.mailboxId);
      return new StagingConverter(services.graph, services.vault, services.importSessions, staging);
    });
    converter.catch(() => converters.delete(services));
    converters.set(services, converter);
  }
  return converter;
}
