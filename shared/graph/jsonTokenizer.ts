import { StringDecoder } from 'node:string_decoder';

/**
 * Events of a streaming JSON tokenizer. String values arrive as one or more `stringChunk`s then `stringEnd`,
 * so a 200 MB base64 value is never one JavaScript string; keys arrive whole.
 */
export type JsonEvent =
  'startObject' | 'endObject' | 'startArray' | 'endArray' | 'key' | 'stringChunk' | 'stringEnd' | 'primitive';

export type JsonEventHandler = (event: JsonEvent, value?: string | number | boolean | null) => void;

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const MAX_KEY_LENGTH = 64 * 1024;

type Mode =
  | 'value' // expecting a value
  | 'keyOrEnd' // just after '{'
  | 'key' // after ',' in an object
  | 'colon'
  | 'commaOrEnd'
  | 'valueOrEnd' // just after '['
  | 'string'
  | 'literal'
  | 'done';

/**
 * A small, strict streaming JSON tokenizer written for exportItems and import bodies. Why not stream-json:
 * its string scanner emits at most 256 characters per token, so a large base64 value costs a token and a
 * callback per 256 characters, while this one finds the end of a string with one native search per chunk
 * and hands the whole run of characters over at once.
 */
export class JsonTokenizer {
  private readonly decoder = new StringDecoder('utf8');
  private readonly stack: Array<'object' | 'array'> = [];
  private mode: Mode = 'value';
  private inKey = false;
  private keyParts = '';
  private pendingEscape = '';
  private literal = '';
  /**
   * Where the next backslash and the next control character of the current chunk are (-1: none up to its end),
   * found once per chunk and again only when the scan passes them. Searching afresh for each string would scan
   * the rest of the chunk once per key and id, which for a chunk of many items is most of the tokenizer's CPU.
   */
  private nextBackslash = -1;
  private nextControl = -1;

  constructor(private readonly emit: JsonEventHandler) {}

  write(chunk: Buffer | string): void {
    this.scan(typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
  }

  /** Ends the input; throws when the document is incomplete (a truncated body). */
  end(): void {
    this.scan(this.decoder.end());
    if (this.mode === 'literal') this.finishLiteral();
    if (this.mode !== 'done') throw new SyntaxError('The JSON document ends early (the body was cut short)');
  }

  private fail(message: string): never {
    throw new SyntaxError(`Invalid JSON: ${message}`);
  }

  private afterValue(): void {
    this.mode = this.stack.length === 0 ? 'done' : 'commaOrEnd';
  }

  private scan(text: string): void {
    let i = 0;
    const n = text.length;
    this.nextBackslash = text.indexOf('\\');
    this.nextControl = findControl(text, 0);
    while (i < n) {
      if (this.mode === 'string') {
        i = this.scanString(text, i);
        continue;
      }
      if (this.mode === 'literal') {
        i = this.scanLiteral(text, i);
        continue;
      }
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        continue;
      }
      const ch = text[i]!;
      i++;
      switch (this.mode) {
        case 'done':
          this.fail(`unexpected '${ch}' after the end of the document`);
        // falls through (fail never returns)
        case 'colon':
          if (ch !== ':') this.fail(`expected ':' but found '${ch}'`);
          this.mode = 'value';
          break;
        case 'commaOrEnd':
          if (ch === ',') this.mode = this.stack[this.stack.length - 1] === 'object' ? 'key' : 'value';
          else this.closeContainer(ch);
          break;
        case 'keyOrEnd':
        case 'key':
          if (ch === '"') {
            this.inKey = true;
            this.keyParts = '';
            this.mode = 'string';
          } else if (ch === '}' && this.mode === 'keyOrEnd') this.closeContainer(ch);
          else this.fail(`expected a key but found '${ch}'`);
          break;
        case 'valueOrEnd':
          if (ch === ']') {
            this.closeContainer(ch);
            break;
          }
          this.startValue(ch);
          break;
        case 'value':
          this.startValue(ch);
          break;
      }
    }
  }

  private startValue(ch: string): void {
    if (ch === '{') {
      this.stack.push('object');
      this.emit('startObject');
      this.mode = 'keyOrEnd';
    } else if (ch === '[') {
      this.stack.push('array');
      this.emit('startArray');
      this.mode = 'valueOrEnd';
    } else if (ch === '"') {
      this.inKey = false;
      this.mode = 'string';
    } else if (/[-0-9tfn]/.test(ch)) {
      this.literal = ch;
      this.mode = 'literal';
    } else this.fail(`unexpected '${ch}'`);
  }

  private closeContainer(ch: string): void {
    const top = this.stack[this.stack.length - 1];
    if ((ch === '}' && top === 'object') || (ch === ']' && top === 'array')) {
      this.stack.pop();
      this.emit(top === 'object' ? 'endObject' : 'endArray');
      this.afterValue();
    } else this.fail(`unexpected '${ch}'`);
  }

  /** Consumes a literal's characters from `start`; the first character that cannot be part of it ends it. */
  private scanLiteral(text: string, start: number): number {
    let i = start;
    while (i < text.length && /[0-9A-Za-z+\-.]/.test(text[i]!)) this.literal += text[i++];
    if (i < text.length) this.finishLiteral();
    return i;
  }

  private finishLiteral(): void {
    const text = this.literal;
    let value: number | boolean | null;
    if (text === 'true') value = true;
    else if (text === 'false') value = false;
    else if (text === 'null') value = null;
    else if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text)) value = Number(text);
    else this.fail(`bad literal '${text.slice(0, 20)}'`);
    this.literal = '';
    this.emit('primitive', value);
    this.afterValue();
  }

  private stringPart(part: string): void {
    if (part.length === 0) return;
    if (this.inKey) {
      this.keyParts += part;
      if (this.keyParts.length > MAX_KEY_LENGTH) this.fail('object key too long');
    } else this.emit('stringChunk', part);
  }

  /** Consumes string content from `start`; returns the index after what it consumed. */
  private scanString(text: string, start: number): number {
    let i = start;
    if (this.pendingEscape) {
      // An escape split across chunks: complete it first.
      while (i < text.length && !this.escapeComplete(this.pendingEscape)) this.pendingEscape += text[i++];
      if (!this.escapeComplete(this.pendingEscape)) return i;
      this.stringPart(this.decodeEscape(this.pendingEscape));
      this.pendingEscape = '';
    }
    const n = text.length;
    let from = i;
    for (;;) {
      const quote = text.indexOf('"', i);
      if (this.nextBackslash >= 0 && this.nextBackslash < i) this.nextBackslash = text.indexOf('\\', i);
      const slash = this.nextBackslash;
      const stop = quote < 0 ? slash : slash < 0 ? quote : Math.min(quote, slash);
      if (stop < 0) {
        this.checkControl(text, from, n);
        this.stringPart(text.slice(from, n));
        return n;
      }
      this.checkControl(text, from, stop);
      this.stringPart(text.slice(from, stop));
      if (stop === quote) {
        if (this.inKey) {
          this.emit('key', this.keyParts);
          this.keyParts = '';
          this.mode = 'colon';
        } else {
          this.emit('stringEnd');
          this.afterValue();
        }
        return stop + 1;
      }
      // Backslash: take the escape if it is whole in this chunk, else carry it.
      const available = text.slice(stop, Math.min(n, stop + 6));
      if (!this.escapeComplete(available)) {
        this.pendingEscape = available;
        return stop + available.length;
      }
      const length = available[1] === 'u' ? 6 : 2;
      this.stringPart(this.decodeEscape(available.slice(0, length)));
      i = from = stop + length;
    }
  }

  private checkControl(text: string, from: number, to: number): void {
    // Control characters must be escaped inside JSON strings; base64 never has them. (Between strings they are
    // whitespace, so the next one may lie before `from`: look again from there.)
    if (this.nextControl >= 0 && this.nextControl < from) this.nextControl = findControl(text, from);
    if (this.nextControl >= 0 && this.nextControl < to) this.fail('control character inside a string');
  }

  private escapeComplete(escape: string): boolean {
    if (escape.length < 2) return false;
    return escape[1] === 'u' ? escape.length >= 6 : true;
  }

  private decodeEscape(escape: string): string {
    const kind = escape[1]!;
    if (kind === 'u') {
      const hex = escape.slice(2, 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail(`bad unicode escape '\\u${hex}'`);
      return String.fromCharCode(parseInt(hex, 16));
    }
    const decoded = ESCAPES[kind];
    if (decoded === undefined) this.fail(`bad escape '\\${kind}'`);
    return decoded;
  }
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f]/g;

/** Index of the first control character at or after `from`, or -1. */
function findControl(text: string, from: number): number {
  CONTROL_CHARACTER.lastIndex = from;
  return CONTROL_CHARACTER.exec(text)?.index ?? -1;
}
