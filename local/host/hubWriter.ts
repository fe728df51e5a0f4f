import type { HostLog } from './invocation.js';
import type { ExecutionBegun, HubRecord, TaskHub } from './taskHub.js';

const FIRST_RETRY_MS = 200;
const MAX_RETRY_MS = 30_000;

/**
 * Writes to the task hub in order per instance (each write starts once the previous one of that instance
 * landed) and in parallel across instances. A failed write is retried until it lands, as the Functions host
 * keeps retrying its storage: the instance waits, nothing it scheduled is acted on meanwhile. Without a hub
 * every write is done at once.
 */
export class HubWriter {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly hub: TaskHub | undefined,
    private readonly log: HostLog,
  ) {}

  get persistent(): boolean {
    return this.hub !== undefined;
  }

  begin(instanceId: string, begun: ExecutionBegun): Promise<void> {
    const forgetOlder = begun.generation > 1;
    return this.enqueue(instanceId, async (hub) => {
      await hub.begin(instanceId, begun);
      if (forgetOlder) await hub.forget(instanceId, begun.generation).catch(() => undefined);
    });
  }

  append(instanceId: string, generation: number, record: HubRecord): Promise<void> {
    return this.enqueue(instanceId, (hub) => hub.append(instanceId, generation, record));
  }

  /** Resolves once every write of this instance asked for so far has landed. */
  settled(instanceId: string): Promise<void> {
    return this.chains.get(instanceId) ?? Promise.resolve();
  }

  private enqueue(instanceId: string, write: (hub: TaskHub) => Promise<void>): Promise<void> {
    const hub = this.hub;
    if (!hub) return Promise.resolve();
    const previous = this.chains.get(instanceId) ?? Promise.resolve();
    const next = previous.then(() => this.untilLanded(instanceId, () => write(hub)));
    this.chains.set(instanceId, next);
    void next.then(() => {
      if (this.chains.get(instanceId) === next) this.chains.delete(instanceId);
    });
    return next;
  }

  private async untilLanded(instanceId: string, write: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        const delay = Math.min(FIRST_RETRY_MS * 2 ** attempt, MAX_RETRY_MS);
        const reason = (error as Error)?.message ?? String(error);
        this.log('warning', 'taskHub', `writing instance ${instanceId} failed (${reason}); retrying in ${delay} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
