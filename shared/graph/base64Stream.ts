import { Transform, type TransformCallback } from 'node:stream';

/**
 * Decodes base64 text arriving in arbitrary pieces. Only whole 4-character quanta are decoded; the remainder
 * (0–3 characters) is carried into the next piece, so no chunk boundary can corrupt a byte.
 */
export class Base64Decoder {
  private carry = '';

  /** Characters that are not part of the base64 alphabet (JSON whitespace excepted) make the input invalid. */
  push(text: string): Buffer {
    let input = this.carry + text;
    if (/[^A-Za-z0-9+/=]/.test(input)) {
      input = input.replace(/[\r\n\t ]/g, '');
      if (/[^A-Za-z0-9+/=]/.test(input)) throw new Error('The data is not valid base64');
    }
    const whole = input.length - (input.length % 4);
    this.carry = input.slice(whole);
    return whole === 0 ? Buffer.alloc(0) : Buffer.from(input.slice(0, whole), 'base64');
  }

  /** Call once at the end; a dangling partial quantum means the text was cut short. */
  end(): void {
    if (this.carry.length !== 0) throw new Error('The base64 data ends in the middle of a quantum');
  }
}

/** Encodes bytes arriving in arbitrary pieces as one continuous base64 text (3-byte carry). */
export class Base64EncodeStream extends Transform {
  private carry: Buffer = Buffer.alloc(0);

  constructor() {
    super({ decodeStrings: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const input = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const whole = input.length - (input.length % 3);
    this.carry = Buffer.from(input.subarray(whole));
    // Push bytes, not a string: the readable side would otherwise re-encode it.
    callback(null, whole === 0 ? undefined : Buffer.from(input.subarray(0, whole).toString('base64'), 'latin1'));
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.carry.length ? Buffer.from(this.carry.toString('base64'), 'latin1') : undefined);
  }
}
