import { Readable, Transform, type TransformCallback } from 'node:stream';

/**
 * mboxrd (the variant whose escaping can be undone): each message starts with a `From ` line, and any line of a
 * message that reads `From ` after zero or more `>` gets one more `>`, so a reader strips one `>` from such lines
 * and has the message back byte for byte. Written as a stream; nothing holds more than a line's first bytes.
 */

/** `>*From ` at the start of a line, or the start of one. */
const QUOTED_FROM = /^>*From $/;
const QUOTED_FROM_PREFIX = /^>*(F(r(o(m)?)?)?)?$/;

/** Escapes one message's lines for mboxrd, across chunk boundaries. */
export class MboxrdEscape extends Transform {
  /** The current line's first bytes while they may still turn out to be `>*From `. */
  private pending = Buffer.alloc(0);
  private atLineStart = true;
  /** The last byte passed on: a message must end with a newline before the next `From ` line. */
  lastByte = -1;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.atLineStart) {
        const candidate = Buffer.concat([this.pending, chunk.subarray(at, at + 1)]);
        const text = candidate.toString('latin1');
        at++;
        if (QUOTED_FROM.test(text)) {
          out.push(Buffer.from('>'), candidate);
          this.pending = Buffer.alloc(0);
          this.atLineStart = false;
        } else if (QUOTED_FROM_PREFIX.test(text)) {
          this.pending = candidate;
        } else {
          out.push(candidate);
          this.pending = Buffer.alloc(0);
          this.atLineStart = candidate[candidate.length - 1] === 0x0a;
        }
        continue;
      }
      const newline = chunk.indexOf(0x0a, at);
      const end = newline < 0 ? chunk.length : newline + 1;
      out.push(chunk.subarray(at, end));
      at = end;
      this.atLineStart = newline >= 0;
    }
    this.passOn(out, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.passOn([this.pending], callback);
    this.pending = Buffer.alloc(0);
  }

  private passOn(parts: Buffer[], callback: TransformCallback): void {
    const bytes = Buffer.concat(parts);
    if (bytes.length) this.lastByte = bytes[bytes.length - 1]!;
    callback(null, bytes.length ? bytes : undefined);
  }
}

/** The `From ` line's date, in asctime form (`Wed Dec  2 02:11:02 2026`), in UTC. */
export function asctime(date: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const day = String(date.getUTCDate()).padStart(2, ' ');
  return `${days[date.getUTCDay()]} ${months[date.getUTCMonth()]} ${day} ${time} ${date.getUTCFullYear()}`;
}

/** One message of an mbox: its date (for the `From ` line) and how to read its MIME. */
export interface MboxMessage {
  date: Date;
  open: () => Promise<Readable>;
}

/** The messages as one mboxrd file, each opened only when its turn comes. */
export function mboxStream(messages: AsyncIterable<MboxMessage>): Readable {
  return Readable.from(mboxChunks(messages), { objectMode: false });
}

async function* mboxChunks(messages: AsyncIterable<MboxMessage>): AsyncGenerator<Buffer> {
  for await (const message of messages) {
    yield Buffer.from(`From MAILER-DAEMON ${asctime(message.date)}\n`, 'latin1');
    const escape = new MboxrdEscape();
    const source = await message.open();
    source.on('error', (error) => escape.destroy(error));
    for await (const chunk of source.pipe(escape)) yield chunk as Buffer;
    // A message ends with a newline, then a blank line separates it from the next `From ` line.
    yield Buffer.from(escape.lastByte === 0x0a ? '\n' : '\n\n', 'latin1');
  }
}
