import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Instance } from '../../local/host/instances.js';
import { invocationContext } from '../../local/host/invocation.js';
import { ActionType, EventType, wire, type HistoryEvent } from '../../local/host/protocol.js';
import { registrations } from '../../local/host/registry.js';
import { replayOrchestrator } from '../../local/host/replay.js';
import type { RestoreMailboxInput } from '../../functions/contracts.js';
import type { RestorePlanSummary } from '../../shared/restore/types.js';
import { startStack, type Stack } from '../support/stack.js';

/**
 * A restore started before plans were sliced has, as its first task's result, the one-activity plan's counts.
 * Replayed by today's orchestrator (durable-functions matches a task by its number, not its name), it must take
 * them as the plan and go on importing, not plan again from a slice it cannot name.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ mailboxes: [{ upn: 'replay@contoso.example', items: 1 }] });
});
afterAll(() => stack.close());

const AT = new Date('2026-12-01T02:00:00.000Z');
const event = (fields: Record<string, unknown>): HistoryEvent =>
  ({ EventId: -1, IsPlayed: true, Timestamp: AT, ...fields }) as HistoryEvent;

describe('a restore planned by the one-activity plan, replayed', () => {
  it('imports the batches of that plan', async () => {
    const input: RestoreMailboxInput = {
      restoreId: 'restore-20261201T020000Z-legacy',
      targetMailboxId: 'MBX-target',
      importConcurrency: 2,
      windowsPerEpisode: 20,
    };
    const plan: RestorePlanSummary = {
      batchCount: 3,
      selected: 25,
      toImport: 25,
      skippedPresent: 0,
      bytesToImport: 50_000,
      destinationRoot: 'Restored 2026-12-01 02.00.00',
      foldersCreated: 2,
    };
    const history = [
      event({ EventType: EventType.OrchestratorStarted }),
      event({ EventType: EventType.ExecutionStarted, Name: 'restoreMailbox', Input: wire(input) }),
      event({
        EventType: EventType.TaskScheduled,
        EventId: 0,
        Name: 'planRestore',
        Input: wire({ restoreId: input.restoreId }),
      }),
      event({ EventType: EventType.OrchestratorCompleted }),
      event({ EventType: EventType.OrchestratorStarted, IsPlayed: false }),
      event({ EventType: EventType.TaskCompleted, TaskScheduledId: 0, Result: wire(plan), IsPlayed: false }),
    ];
    const reg = registrations.get('restoremailbox')!;
    const instance = { instanceId: input.restoreId, reg, input, history } as unknown as Instance;
    const { state, failed } = await replayOrchestrator(
      instance,
      invocationContext(reg, () => undefined),
    );
    expect(failed).toBe(false);
    // Activities with retry options, the imports of a window inside one Task.all.
    const scheduled = state.actions
      .flat()
      .flatMap((action) => action.compoundActions ?? [action])
      .filter((action) => action.actionType === ActionType.CallActivityWithRetry);
    expect(scheduled.map((action) => action.functionName)).toEqual(['planRestoreSlice', 'importBatch', 'importBatch']);
    expect(scheduled.slice(1).map((action) => (action.input as { batch: number }).batch)).toEqual([0, 1]);
  });
});
