import type { DurableClient } from 'durable-functions';
import { describe, expect, it } from 'vitest';
import { instanceExists } from '../../functions/durable.js';
import { InMemoryDurableClient, type DurableClientBackend } from '../../local/host/durableClient.js';

/**
 * The CLI run in-process has a Durable host of its own beside the app's task hub: asked about an instance it did
 * not start, it cannot tell, and whoever acts on absence (a prune releasing a snapshot, maintenance deleting a
 * request's folder) must count it as existing. The app's own hosts answer "not found".
 */
describe('an instance the local host does not know', () => {
  const knowsNothing: DurableClientBackend = {
    startNew: () => 'unused',
    getStatus: () => undefined,
    raiseEvent: () => undefined,
    terminate: () => undefined,
    persisted: async () => undefined,
  };
  const clientOf = (knowsOnlyItsOwnInstances: boolean) =>
    new InMemoryDurableClient(knowsNothing, knowsOnlyItsOwnInstances) as unknown as DurableClient;

  it('does not exist, for a host that is the task hub of its vault (npm start, tests)', async () => {
    expect(await instanceExists(clientOf(false), 'restore-20250101T050000Z-0a0b0c0d')).toBe(false);
  });

  it('may exist elsewhere, for the CLI in-process: counted as existing', async () => {
    expect(await instanceExists(clientOf(true), 'restore-20250101T050000Z-0a0b0c0d')).toBe(true);
  });
});
