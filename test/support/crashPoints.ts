import { AsyncLocalStorage } from 'node:async_hooks';
import { registrations } from '../../local/host/registry.js';
import { setVaultWriteHook, type VaultWrite } from '../../shared/vault/writeFaults.js';

/**
 * Which of `count` crash points a sweep crashes at: every one with `CRASH_SWEEP=all` (.ci/run), those named by
 * `CRASH_POINTS=12,40` (to reproduce one a sweep reported), else `sample` of them spread evenly, always including
 * the first and the last (what `npm test` runs).
 */
export function pointsToCrash(count: number, sample: number): number[] {
  const only = process.env.CRASH_POINTS?.split(',').map(Number);
  if (only) return only;
  if (process.env.CRASH_SWEEP === 'all') return Array.from({ length: count }, (_, index) => index);
  const spread = Array.from({ length: sample }, (_, i) => Math.round((i * (count - 1)) / (sample - 1)));
  return [...new Set(spread)];
}

/**
 * A crash point named by its label and which time that label is reached (0 for the first), rather than by its
 * position in the whole run: a write that happens only on some runs (the upload ledger's settlement of a chunk
 * idle for a second, which a loaded machine reaches sooner) then shifts no other point.
 */
export interface CrashTarget {
  label: string;
  occurrence: number;
}

/** The target of the dry run's `index`th point. */
export function crashTargetAt(reached: readonly string[], index: number): CrashTarget {
  const label = reached[index]!;
  return { label, occurrence: reached.slice(0, index).filter((other) => other === label).length };
}

/**
 * Writes whose number depends on time, not on the scenario: a point of theirs the dry run reached may not come on
 * a later run. Such a point is not crashed at on that run, and said so, rather than failed.
 */
export const isTimingDependent = (label: string): boolean => label.includes('upload-ledger.json');

/** What a crashed worker's work sees: the process is gone, nothing it does from now on lands. */
export class InjectedCrash extends Error {}

interface ActivityRun {
  readonly name: string;
  /** The process died while this activity ran: its writes never land and its result is never recorded. */
  doomed: boolean;
}

/**
 * Crash points of a scripted run, in the order they are reached: each activity's start (the worker stops
 * before it runs) and end (after its work, before Durable records its result), and each vault write's two sides
 * (the process stops just before the write is sent, or just after it landed). A crash fails every activity in
 * flight at that moment, as a dead process would: their later writes never land and their results are lost, so
 * Durable retries them. With no crash index the run only counts the points (the dry run).
 */
export class CrashPoints {
  /** Each point's label, in the order reached. */
  readonly reached: string[] = [];
  crashedAt: string | undefined;
  private readonly current = new AsyncLocalStorage<ActivityRun>();
  private readonly running = new Set<ActivityRun>();
  private readonly originals = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  private readonly occurrences = new Map<string, number>();

  constructor(private readonly crashAt?: CrashTarget) {}

  /** Wraps every registered activity and hooks the vault's writes; `uninstall` undoes both. */
  install(): void {
    for (const [key, reg] of registrations) {
      if (reg.triggerType !== 'activityTrigger') continue;
      const original = reg.callback as (...args: unknown[]) => Promise<unknown>;
      this.originals.set(key, original);
      reg.callback = (...args: unknown[]) => this.runActivity(reg.name, original, args);
    }
    setVaultWriteHook((write, phase) => this.onWrite(write, phase));
  }

  uninstall(): void {
    setVaultWriteHook(undefined);
    for (const [key, original] of this.originals) registrations.get(key)!.callback = original;
    this.originals.clear();
  }

  private async runActivity(name: string, original: (...args: unknown[]) => Promise<unknown>, args: unknown[]) {
    this.point(`activity ${name} before`);
    const run: ActivityRun = { name, doomed: false };
    this.running.add(run);
    try {
      const result = await this.current.run(run, () => original(...args));
      if (!run.doomed) this.point(`activity ${name} after`);
      if (run.doomed) throw new InjectedCrash(`[injected crash] the worker running ${name} died`);
      return result;
    } catch (error) {
      if (run.doomed) throw new InjectedCrash(`[injected crash] the worker running ${name} died`);
      throw error;
    } finally {
      this.running.delete(run);
    }
  }

  private onWrite(write: VaultWrite, phase: 'before' | 'after'): void {
    if (this.current.getStore()?.doomed) throw new InjectedCrash(`[injected crash] ${write.blobName} not written`);
    this.point(`${write.op} ${phase} ${generic(write.blobName)}`);
  }

  private point(label: string): void {
    this.reached.push(label);
    const occurrence = this.occurrences.get(label) ?? 0;
    this.occurrences.set(label, occurrence + 1);
    if (label !== this.crashAt?.label || occurrence !== this.crashAt.occurrence) return;
    this.crashedAt = label;
    for (const run of this.running) run.doomed = true;
    throw new InjectedCrash(`[injected crash] at ${label}`);
  }
}

/** A blob name without its run, snapshot and item ids: what kind of write a point is. */
function generic(blobName: string): string {
  return blobName
    .replace(/\d{8}T\d{6}Z(-[0-9a-f]{8})?/g, '*')
    .split('/')
    .map((part) => (part.length > 24 ? '…' : part))
    .join('/');
}
