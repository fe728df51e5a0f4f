import type { OrchestrationContext, Task } from 'durable-functions';
import { errorReason } from '../shared/errors.js';

/**
 * Waits for a fixed window of tasks and returns the ones that failed. `Task.all` fails fast while the rest of the
 * window is still running; each task is then awaited on its own (re-yielding one task alone is safe, unlike
 * putting it into a new Task.any/Task.all: durable-js #574), so the next window never overlaps this one.
 */
export function* settleWindow(
  context: OrchestrationContext,
  tasks: Task[],
): Generator<Task, Array<{ index: number; reason: string }>, unknown> {
  const failures: Array<{ index: number; reason: string }> = [];
  try {
    yield context.df.Task.all(tasks);
  } catch {
    for (const [index, task] of tasks.entries()) {
      try {
        yield task;
      } catch (error) {
        failures.push({ index, reason: errorReason(error) });
      }
    }
  }
  return failures;
}
