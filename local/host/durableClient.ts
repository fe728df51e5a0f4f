import type { InstanceStatus } from './instances.js';

/** What the client needs from the host. */
export interface DurableClientBackend {
  startNew(name: string, options: { input?: unknown; instanceId?: string }): string;
  getStatus(instanceId: string, options: { showHistory?: boolean }): InstanceStatus | undefined;
  raiseEvent(instanceId: string, eventName: string, data?: unknown): void;
  terminate(instanceId: string, reason?: string): void;
  /** Resolves once the host's task hub holds what was asked of this instance. */
  persisted(instanceId: string): Promise<void>;
}

/**
 * The subset of durable-functions' DurableClient the app uses, backed by the in-process host. Like the real
 * client, a call returns once the request is stored: a start, event or terminate survives a kill after that.
 */
export class InMemoryDurableClient {
  readonly taskHubName = 'local';
  readonly uniqueWebhookOrigins: string[] = [];
  constructor(
    private readonly host: DurableClientBackend,
    private readonly knowsOnlyItsOwnInstances = false,
  ) {}

  async startNew(name: string, options: { input?: unknown; instanceId?: string } = {}): Promise<string> {
    const instanceId = this.host.startNew(name, options);
    await this.host.persisted(instanceId);
    return instanceId;
  }

  async getStatus(instanceId: string, options: { showHistory?: boolean } = {}): Promise<InstanceStatus> {
    const status = this.host.getStatus(instanceId, options);
    // The real client answers an unknown instance with an error; so does this one.
    if (!status && this.knowsOnlyItsOwnInstances)
      throw Object.assign(
        new Error(`Instance ${instanceId} is not this local host's: it may run in the app's own task hub`),
        { name: 'InstanceNotTracked' }, // functions/durable.ts INSTANCE_NOT_TRACKED
      );
    if (!status)
      throw new Error(
        `DurableClient error: Durable Functions extension replied with HTTP 404 response. Instance ${instanceId} not found.`,
      );
    return status;
  }

  async raiseEvent(instanceId: string, eventName: string, data?: unknown): Promise<void> {
    this.host.raiseEvent(instanceId, eventName, data);
    await this.host.persisted(instanceId);
  }

  async terminate(instanceId: string, reason: string): Promise<void> {
    this.host.terminate(instanceId, reason);
    await this.host.persisted(instanceId);
  }
}
