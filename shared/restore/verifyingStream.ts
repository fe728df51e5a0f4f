import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { MailboxVaultError } from '../errors.js';
import type { VaultStore } from '../vault/vaultStore.js';

export class ChecksumMismatchError extends MailboxVaultError {
  readonly code = 'ChecksumMismatch';
  constructor(blob: string) {
    super(`The stored item ${blob} does not match its SHA-256; it was not imported`);
  }
}

/**
 * Passes bytes through while hashing them; at the end a wrong SHA-256 or length fails the stream, which aborts
 * the import POST before its body is complete, so a damaged item is never imported.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private length = 0;

  constructor(
    private readonly expectedSha256: string,
    private readonly expectedLength: number,
    private readonly blob: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.length += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.length !== this.expectedLength || this.hash.digest('hex') !== this.expectedSha256)
      callback(new ChecksumMismatchError(this.blob));
    else callback();
  }
}

/** A stored item version as a stream that fails, before its end, if its bytes are not the ones recorded. */
export function openVerifiedItem(vault: VaultStore, item: { blob: string; sha256: string; length: number }): Readable {
  const verifying = new VerifyingStream(item.sha256, item.length, item.blob);
  void vault.openItemVersion(item.blob).then(
    (source) => {
      source.on('error', (error) => verifying.destroy(error));
      source.pipe(verifying);
    },
    (error: unknown) => verifying.destroy(error as Error),
  );
  return verifying;
}
