/**
 * A test-only hook on every write the vault makes (put, item version, NDJSON stream, owner record, delete), called
 * just before the write is sent and just after it landed. The crash tests throw from it to stop "the process"
 * on either side of a write. It can only be set under Vitest; in the app it is never set and costs one check.
 */
export interface VaultWrite {
  op: 'putJson' | 'putText' | 'putItemVersion' | 'putNdjson' | 'putOwner' | 'delete';
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
  hook(write, 'before');
  const result = await run();
  hook?.(write, 'after');
  return result;
}
