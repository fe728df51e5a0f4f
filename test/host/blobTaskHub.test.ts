import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { BlobTaskHub, taskHubContainerName } from '../../local/host/blobTaskHub.js';
import type { ExecutionBegun, HubRecord } from '../../local/host/taskHub.js';
import { azuriteConnectionString } from '../support/vault.js';

/** The local task hub on Azurite: logs read back as written, retried appends written once, the newest execution. */

function freshHub() {
  const container = BlobServiceClient.fromConnectionString(azuriteConnectionString()).getContainerClient(
    taskHubContainerName(`hub-${randomBytes(5).toString('hex')}`),
  );
  return { container, hub: new BlobTaskHub(container), reopen: () => new BlobTaskHub(container) };
}

const begun = (generation: number): ExecutionBegun => ({
  kind: 'begun',
  name: 'orchestrator',
  executionId: `execution-${generation}`,
  input: { n: generation },
  createdTime: '2026-01-01T00:00:00.000Z',
  generation,
  generations: generation,
});

const raised = (seq: number): HubRecord => ({ kind: 'event', seq, event: { EventType: 15, Name: 'go' } });

describe('BlobTaskHub', () => {
  it('reads back every record of the newest execution of each instance, in order', async () => {
    const { hub, reopen } = freshHub();
    await hub.begin('a/b:1', begun(1));
    await hub.append('a/b:1', 1, raised(1));
    await hub.append('a/b:1', 1, raised(2));
    await hub.begin('a/b:1', begun(2));
    await hub.append('a/b:1', 2, raised(1));
    await hub.begin('other', begun(1));
    const loaded = await reopen().load();
    expect(loaded.map((e) => [e.instanceId, e.generation, e.records.map((r) => r.kind)]).sort()).toEqual([
      ['a/b:1', 2, ['begun', 'event']],
      ['other', 1, ['begun']],
    ]);
  });

  it('writes a retried append once when its first attempt landed (its answer lost)', async () => {
    const { hub, reopen } = freshHub();
    await hub.begin('x', begun(1));
    const sameProcessBeforeTheAnswer = reopen();
    await sameProcessBeforeTheAnswer.load();
    await hub.append('x', 1, raised(1));
    // The retry: the same record at the position the writer expected, which the first attempt already filled.
    await sameProcessBeforeTheAnswer.append('x', 1, raised(1));
    const [log] = await reopen().load();
    expect(log!.records).toEqual([begun(1), raised(1)]);
  });

  it('refuses to start an execution over a log that holds records', async () => {
    const { hub, reopen } = freshHub();
    await hub.begin('y', begun(1));
    await hub.append('y', 1, raised(1));
    await expect(reopen().begin('y', begun(1))).rejects.toThrow();
  });

  it('forgets the executions before a continueAsNew', async () => {
    const { container, hub } = freshHub();
    for (const generation of [1, 2, 3]) await hub.begin('z', begun(generation));
    await hub.forget('z', 3);
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat()) names.push(blob.name);
    expect(names).toEqual(['instances/z/00000003.log']);
  });
});
