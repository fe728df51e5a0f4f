import type { Instance } from './instances.js';
import { flattenActions, type Action, type OrchestratorState } from './protocol.js';

/**
 * The strict check: what the real host would get wrong or reject, reported as a failure here. Actions are
 * cumulative across replays, so a deterministic orchestrator re-emits the previous episode's list as a prefix.
 * Returns the problem, or undefined (and remembers this episode's actions) when there is none.
 */
export function checkDeterminism(instance: Instance, state: OrchestratorState): string | undefined {
  const actions = flattenActions(state.actions);
  const reused = reusedAction(actions);
  if (reused) {
    return `'${instance.name}' puts an already scheduled task into a new Task.any/Task.all (${reused.functionName ?? reused.actionType}); the real host would schedule it again (durable-js issue #574)`;
  }
  const signatures = actions.map((a) =>
    JSON.stringify([a.actionType, a.functionName, a.input, a.instanceId, a.externalEventName, a.fireAt]),
  );
  const bad = instance.lastActionSignatures.findIndex((previous, i) => signatures[i] !== previous);
  if (bad >= 0)
    return `Non-deterministic replay in '${instance.name}' (${instance.instanceId}) at action #${bad}: was ${instance.lastActionSignatures[bad]}, now ${signatures[bad] ?? 'nothing'}`;
  instance.lastActionSignatures = signatures;
  return undefined;
}

/** The same action object twice: a pending task yielded again inside a new Task.any / Task.all. */
function reusedAction(actions: Action[]): Action | undefined {
  const seen = new Set<Action>();
  for (const action of actions) {
    if (seen.has(action)) return action;
    seen.add(action);
  }
  return undefined;
}
