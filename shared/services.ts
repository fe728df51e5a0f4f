import type { TokenCredential } from '@azure/core-auth';
import { AuditTrail } from './audit/trail.js';
import { loadConfig, type AppConfig } from './config.js';
import { createBlobServiceClient, createGraphCredential } from './credentials.js';
import { MailboxClient, type GraphLogger } from './graph/index.js';
import { ImportSessionCache } from './restore/sessions.js';
import { IndexedNdjsonReader } from './vault/indexedNdjson.js';
import { VaultMailboxLimits } from './vault/mailboxSlots.js';
import { VaultStore } from './vault/vaultStore.js';

/**
 * The process's state, all of it in one place: the clients below live as long as the process (a Functions
 * worker), shared by every activity and trigger it runs. Besides them, shared/ keeps one thing between calls:
 * the keep-alive socket pool of the vault's small Blob requests (vault/blobRequests.ts). What must survive a
 * process (plans, results, journals) lives in the vault.
 */
export interface Services {
  config: AppConfig;
  graph: MailboxClient;
  vault: VaultStore;
  /** Import sessions of this process, per target mailbox (never persisted: their URLs carry a token). */
  importSessions: ImportSessionCache;
  /** Reads run plans; keeps their indexes (a plan version never changes) for the process's export activities. */
  plans: IndexedNdjsonReader;
  /** The append-only audit trail (its own container, in its own account in Azure). */
  audit: AuditTrail;
  /** Restore targets' limits held with the other instances (its counts measure the Blob requests they cost). */
  sharedLimits: VaultMailboxLimits;
}

let services: Promise<Services> | undefined;
let credentialOverride: TokenCredential | undefined;

const consoleLogger: GraphLogger = {
  info: (message) => console.warn(`[graph] ${message}`),
  warn: (message) => console.warn(`[graph] ${message}`),
};

/**
 * The process's clients, built once from the validated configuration (Azure SDK clients are meant to be
 * long-lived, and the Graph client's per-mailbox limiter must be shared by every activity in the process).
 */
export function getServices(): Promise<Services> {
  services ??= (async () => {
    const config = loadConfig();
    const credential = credentialOverride ?? (await createGraphCredential(config.graph.credential));
    const vaultService = createBlobServiceClient(config.storage);
    const vault = new VaultStore(vaultService, config.storage.containerName);
    const { uploadBudget, maxConcurrentRequestsPerMailbox } = config.graph;
    // A restore target's limits, held with every other instance importing into it (through the vault).
    const sharedLimits = new VaultMailboxLimits(
      vault,
      maxConcurrentRequestsPerMailbox,
      uploadBudget,
      config.graph.requestTimeoutInMs,
    );
    const graph = new MailboxClient(credential, {
      baseUrl: config.graph.baseUrl,
      apiVersion: config.graph.apiVersion,
      maxConcurrentRequestsPerMailbox: config.graph.maxConcurrentRequestsPerMailbox,
      requestTimeoutInMs: config.graph.requestTimeoutInMs,
      retry: { maxRetries: config.graph.maxRetries, baseDelayInMs: config.graph.retryBaseDelayInMs },
      uploadBudget: config.graph.uploadBudget,
      sharedLimits,
      ...(config.graph.logRetries ? { logger: consoleLogger } : {}),
    });
    await vault.ensureContainer();
    const audit = auditTrailOf(config, vaultService);
    if (!config.access.audit.accountUrl) await audit.ensureContainer();
    return {
      config,
      graph,
      vault,
      importSessions: new ImportSessionCache(graph),
      plans: new IndexedNdjsonReader(vault),
      audit,
      sharedLimits,
    };
  })().catch((error: unknown) => {
    services = undefined;
    throw error;
  });
  return services;
}

/**
 * The audit trail: in Azure a container of the audit account, which the deployment declares under its retention
 * policy (the app may not create containers there); otherwise a container beside the vault's, created here.
 */
function auditTrailOf(config: AppConfig, vaultService: ReturnType<typeof createBlobServiceClient>): AuditTrail {
  const { accountUrl, containerName } = config.access.audit;
  const service = accountUrl
    ? createBlobServiceClient({
        accountUrl,
        containerName,
        ...(config.storage.managedIdentityClientId
          ? { managedIdentityClientId: config.storage.managedIdentityClientId }
          : {}),
      })
    : vaultService;
  return new AuditTrail(service.getContainerClient(containerName));
}

/** For the local host and tests: forget the clients so the next call reads the configuration again. */
export function resetServices(options: { credential?: TokenCredential } = {}): void {
  services = undefined;
  credentialOverride = options.credential;
}
