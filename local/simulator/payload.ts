import { createCipheriv, createHash, createHmac, type Hmac } from 'node:crypto';

/**
 * Simulated FastTransfer item streams. Real streams are opaque; these follow the framing observed in Graph's
 * documentation sample (`[u32 kind][u32 length][payload]`, graph-mailbox-api.md §7) so that they look and
 * behave like the real thing: a header, a record frame, a property frame with plain MAPI tags (message class,
 * subject, sender, received time, PR_SEARCH_KEY) and a large binary body, then an integrity frame.
 *
 * The record frame carries what regenerates the stream (seed and body length), and the trailing frame is an
 * HMAC over everything before it, so the simulator can tell an untouched stream from a damaged one on import.
 */

export interface PayloadSpec {
  messageClass: string;
  subject: string;
  senderEmail: string;
  /** ISO time. */
  receivedDateTime: string;
  /** 16 bytes. */
  searchKey: Buffer;
  /** Seeds the body bytes. */
  seed: bigint;
  /** Length of the pseudo-random body property. */
  bodyLength: number;
}

const KIND_HEADER = 1;
const KIND_PROPERTIES = 2;
const KIND_RECORD = 3;
const KIND_FLAGS = 4;
const KIND_INTEGRITY = 5;
const RECORD_MAGIC = 0x4d56534d; // 'MVSM'
const TRAILER_LENGTH = 8 + 32;

const TAG_IMPORTANCE = 0x00170003;
const TAG_MESSAGE_CLASS = 0x001a001f;
const TAG_SUBJECT = 0x0037001f;
const TAG_SENDER_EMAIL = 0x0c1f001f;
const TAG_RECEIVED_TIME = 0x0e060040;
const TAG_SEARCH_KEY = 0x300b0102;
const TAG_BODY = 0x10130102; // a binary body-like property, last in the frame

const GENERATE_CHUNK = 256 * 1024;

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}

function frameHeader(kind: number, length: number): Buffer {
  return Buffer.concat([u32(kind), u32(length)]);
}

function unicodeProp(tag: number, text: string): Buffer {
  const value = Buffer.from(`${text}\0`, 'utf16le');
  return Buffer.concat([u32(tag), u32(value.length), value]);
}

function filetime(iso: string): Buffer {
  const b = Buffer.alloc(8);
  const ticks = (BigInt(Date.parse(iso)) + 11644473600000n) * 10000n;
  b.writeBigUInt64LE(ticks);
  return b;
}

function fromFiletime(b: Buffer): string {
  const ms = b.readBigUInt64LE() / 10000n - 11644473600000n;
  return new Date(Number(ms)).toISOString();
}

/** Everything before the body bytes. */
function headBytes(spec: PayloadSpec): Buffer {
  const record = Buffer.alloc(24);
  record.writeUInt32LE(RECORD_MAGIC, 0);
  record.writeUInt32LE(1, 4);
  record.writeBigUInt64LE(spec.seed, 8);
  record.writeBigUInt64LE(BigInt(spec.bodyLength), 16);
  const props = Buffer.concat([
    u32(TAG_IMPORTANCE),
    u32(1),
    unicodeProp(TAG_MESSAGE_CLASS, spec.messageClass),
    unicodeProp(TAG_SUBJECT, spec.subject),
    unicodeProp(TAG_SENDER_EMAIL, spec.senderEmail),
    u32(TAG_RECEIVED_TIME),
    filetime(spec.receivedDateTime),
    u32(TAG_SEARCH_KEY),
    u32(spec.searchKey.length),
    spec.searchKey,
    u32(TAG_BODY),
    u32(spec.bodyLength),
  ]);
  return Buffer.concat([
    frameHeader(KIND_HEADER, 8),
    Buffer.from([0, 0, 0, 0, 1, 0, 0, 0]),
    frameHeader(KIND_RECORD, 24),
    record,
    frameHeader(KIND_FLAGS, 6),
    Buffer.from([0x14, 0x0f, 0xd6, 0x91, 0x86, 0x17]),
    frameHeader(KIND_PROPERTIES, props.length + spec.bodyLength),
    props,
  ]);
}

/** Total exported length for a spec. */
export function payloadLength(spec: PayloadSpec): number {
  return headBytes(spec).length + spec.bodyLength + TRAILER_LENGTH;
}

/** Body bytes length that makes the whole stream about `targetLength` bytes. */
export function bodyLengthFor(targetLength: number, spec: Omit<PayloadSpec, 'bodyLength'>): number {
  const overhead = headBytes({ ...spec, bodyLength: 0 }).length + TRAILER_LENGTH;
  return Math.max(16, targetLength - overhead);
}

function keystream(seed: bigint): (length: number) => Buffer {
  const key = createHash('sha256').update(`mailbox-vault-sim:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(GENERATE_CHUNK);
  return (length) => cipher.update(length === GENERATE_CHUNK ? zeros : zeros.subarray(0, length));
}

/**
 * Generates the stream in chunks of at most 256 KiB; memory stays flat for any item size. The bytes are a
 * pure function of `spec` and `integrityKey`.
 */
export function* generatePayload(spec: PayloadSpec, integrityKey: Buffer): Generator<Buffer> {
  const mac = createHmac('sha256', integrityKey);
  const head = headBytes(spec);
  mac.update(head);
  yield head;
  const next = keystream(spec.seed);
  for (let left = spec.bodyLength; left > 0;) {
    const n = Math.min(GENERATE_CHUNK, left);
    const chunk = next(n);
    mac.update(chunk);
    yield chunk;
    left -= n;
  }
  yield Buffer.concat([frameHeader(KIND_INTEGRITY, 32), mac.digest()]);
}

/** The body property's bytes alone, in chunks of at most 256 KiB (the simulator renders them as an attachment). */
export function* payloadBodyBytes(spec: PayloadSpec): Generator<Buffer> {
  const next = keystream(spec.seed);
  for (let left = spec.bodyLength; left > 0;) {
    const n = Math.min(GENERATE_CHUNK, left);
    yield next(n);
    left -= n;
  }
}

/** SHA-256 (hex) of the stream a spec generates. */
export function payloadDigest(spec: PayloadSpec, integrityKey: Buffer): string {
  const hash = createHash('sha256');
  for (const chunk of generatePayload(spec, integrityKey)) hash.update(chunk);
  return hash.digest('hex');
}

export class PayloadRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadRejectedError';
  }
}

/**
 * Checks a stream as it arrives (for imports): keeps a small head to read the properties, hashes everything,
 * and verifies the trailing HMAC, so a single changed byte anywhere is caught without holding the item.
 */
export class PayloadVerifier {
  private readonly mac: Hmac;
  private readonly sha = createHash('sha256');
  private head: Buffer[] = [];
  private headLength = 0;
  private tail = Buffer.alloc(0);
  private total = 0;

  constructor(integrityKey: Buffer) {
    this.mac = createHmac('sha256', integrityKey);
  }

  update(chunk: Buffer): void {
    this.total += chunk.length;
    this.sha.update(chunk);
    if (this.headLength < 64 * 1024) {
      this.head.push(chunk.subarray(0, 64 * 1024 - this.headLength));
      this.headLength += Math.min(chunk.length, 64 * 1024 - this.headLength);
    }
    // Everything except the last TRAILER_LENGTH bytes goes into the MAC.
    const joined = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    if (joined.length > TRAILER_LENGTH) {
      this.mac.update(joined.subarray(0, joined.length - TRAILER_LENGTH));
      this.tail = Buffer.from(joined.subarray(joined.length - TRAILER_LENGTH));
    } else this.tail = Buffer.from(joined);
  }

  /** Returns the spec the stream was generated from, and its digest; throws PayloadRejectedError if damaged. */
  finish(): { spec: PayloadSpec; digest: string; length: number } {
    if (
      this.tail.length < TRAILER_LENGTH ||
      this.tail.readUInt32LE(0) !== KIND_INTEGRITY ||
      this.tail.readUInt32LE(4) !== 32
    ) {
      throw new PayloadRejectedError('The data is not a complete item stream');
    }
    if (!this.mac.digest().equals(this.tail.subarray(8))) {
      throw new PayloadRejectedError('The item stream failed its integrity check (the data was modified)');
    }
    const spec = parseHead(Buffer.concat(this.head));
    if (payloadLength(spec) !== this.total) throw new PayloadRejectedError('The item stream has the wrong length');
    return { spec, digest: this.sha.digest('hex'), length: this.total };
  }
}

function parseHead(head: Buffer): PayloadSpec {
  try {
    const { seed, bodyLength, propertiesAt } = readFrames(head);
    const spec: Partial<PayloadSpec> = { seed, bodyLength };
    readProperties(head, propertiesAt, spec);
    if (!spec.messageClass || spec.subject === undefined || !spec.searchKey || !spec.receivedDateTime)
      throw new Error('missing properties');
    return spec as PayloadSpec;
  } catch (error) {
    if (error instanceof PayloadRejectedError) throw error;
    throw new PayloadRejectedError(`The data is not an item stream (${(error as Error).message})`);
  }
}

/** The frames before the properties frame; the record frame carries the seed and the body's length. */
function readFrames(head: Buffer): { seed: bigint; bodyLength: number; propertiesAt: number } {
  let at = 0;
  let seed = 0n;
  let bodyLength = 0;
  for (;;) {
    const kind = head.readUInt32LE(at);
    const length = head.readUInt32LE(at + 4);
    at += 8;
    if (kind === KIND_RECORD) {
      if (head.readUInt32LE(at) !== RECORD_MAGIC) throw new Error('bad record');
      seed = head.readBigUInt64LE(at + 8);
      bodyLength = Number(head.readBigUInt64LE(at + 16));
    }
    if (kind === KIND_PROPERTIES) return { seed, bodyLength, propertiesAt: at };
    at += length;
  }
}

/** The tagged properties from `start` up to the body tag, into `spec`. */
function readProperties(head: Buffer, start: number, spec: Partial<PayloadSpec>): void {
  let at = start;
  for (;;) {
    const tag = head.readUInt32LE(at);
    at += 4;
    if (tag === TAG_BODY) return;
    if (tag === TAG_IMPORTANCE) {
      at += 4;
      continue;
    }
    if (tag === TAG_RECEIVED_TIME) {
      spec.receivedDateTime = fromFiletime(head.subarray(at, at + 8));
      at += 8;
      continue;
    }
    const length = head.readUInt32LE(at);
    at += 4;
    const value = head.subarray(at, at + length);
    at += length;
    if (tag === TAG_SEARCH_KEY) spec.searchKey = Buffer.from(value);
    else {
      const text = value.toString('utf16le').replace(/\0$/, '');
      if (tag === TAG_MESSAGE_CLASS) spec.messageClass = text;
      if (tag === TAG_SUBJECT) spec.subject = text;
      if (tag === TAG_SENDER_EMAIL) spec.senderEmail = text;
    }
  }
}
