import { updateJson } from '../vault/conditionalJson.js';
import { layout } from '../vault/layout.js';
import type { VaultStore } from '../vault/vaultStore.js';

/**
 * The run's work queue: the next mailbox (by its place in scope order) and, per lane, the last one it took.
 * Lanes take mailboxes one at a time as they finish the previous one, so a long mailbox holds up only its lane.
 */
interface LaneCursor {
  next: number;
  lanes: Record<string, { seq: number; index: number | null }>;
}

/**
 * The next mailbox for `lane`'s `seq`-th take, or null when every mailbox has been taken. Idempotent: a retried
 * activity (same lane and seq) gets the mailbox its first attempt took, so no mailbox is lost or taken twice.
 */
export async function takeNextMailbox(
  vault: VaultStore,
  runId: string,
  take: { lane: number; seq: number; count: number },
): Promise<number | null> {
  return updateJson<LaneCursor, number | null>(
    vault,
    layout.runLanes(runId),
    () => ({ next: 0, lanes: {} }),
    (cursor) => {
      const last = cursor.lanes[take.lane];
      if (last?.seq === take.seq) return { answer: last.index };
      const index = cursor.next < take.count ? cursor.next : null;
      const next = index === null ? cursor.next : index + 1;
      return { answer: index, next: { next, lanes: { ...cursor.lanes, [take.lane]: { seq: take.seq, index } } } };
    },
  );
}

/** How many mailboxes the run's lanes have taken so far (progress while the lanes run). */
export async function mailboxesTaken(vault: VaultStore, runId: string): Promise<number> {
  return (await vault.readJson<LaneCursor>(layout.runLanes(runId)))?.next ?? 0;
}
