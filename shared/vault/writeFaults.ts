/**
 * A test-only hook on every write the vault makes (put, item version, NDJSON stream, owner record, conditional
 * update, file stream, delete), called
 * just before the write is sent and just after it landed. The crash tests throw from it to stop "the process"
 * on either side of a write; the interleaving tests return a promise from it to hold one write (and the step it
 * belongs to) while other work runs. It can only be set under Vitest; in the app it is never set and costs one check.
 */
export interface VaultWrite {
  op:
    | 'putJson'
    | 'putText'
    | 'putItemVersion'
    | 'putNdjson'
    | 'putOwner'
    | 'putConditional'
    | 'putStream'
    | 'stageBlock'
    | 'commitBlocks'
    | 'delete';
  blobName: string;
}

export type VaultWriteHook = (write: VaultWrite, phase: 'before' | 'after') => void;

let hook: VaultWriteHook | undefined;

export function setVaultWriteHook(next: VaultWriteHook | undefined): void {
  if (next && !process.env.VITEST) throw new Error('The vault write hook is for tests only');
  hook = next;
}

/** Runs one vault write between the hook's two calls (the "after" call only when the write landed). */
export async function hookedWrite<T>(write: VaultWrite, run: () => Promise<T>): Promise<T> {
  if (!hook) return run();
  // A hook that returns a promise holds the write until it settles: a test pauses one step there.
  const paused: unknown = hook(write, 'before');
  if (paused instanceof Promise) await paused;
  const result = await run();
  const resumed: unknown = hook?.(write, 'after');
  if (resumed instanceof Promise) await resumed;
  return result;
}
