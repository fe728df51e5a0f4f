import { describe, expect, it } from 'vitest';
import { JsonTokenizer, type JsonEvent } from '../../shared/graph/jsonTokenizer.js';
import { Base64Decoder, Base64EncodeStream } from '../../shared/graph/base64Stream.js';
import { Readable } from 'node:stream';

/** Rebuilds a value from tokenizer events, to compare with JSON.parse. */
function rebuild(chunks: string[]): unknown {
  const stack: Array<{ container: Record<string, unknown> | unknown[]; key?: string }> = [];
  let root: unknown;
  let text: string | undefined;
  const put = (value: unknown) => {
    const top = stack[stack.length - 1];
    if (!top) root = value;
    else if (Array.isArray(top.container)) top.container.push(value);
    else top.container[top.key!] = value;
  };
  const tokenizer = new JsonTokenizer((event: JsonEvent, value) => {
    switch (event) {
      case 'startObject':
      case 'startArray': {
        const container = event === 'startObject' ? {} : [];
        put(container);
        stack.push({ container });
        break;
      }
      case 'endObject':
      case 'endArray':
        stack.pop();
        break;
      case 'key':
        stack[stack.length - 1]!.key = String(value);
        break;
      case 'stringChunk':
        text = (text ?? '') + String(value);
        break;
      case 'stringEnd':
        put(text ?? '');
        text = undefined;
        break;
      case 'primitive':
        put(value);
        break;
    }
  });
  for (const chunk of chunks) tokenizer.write(chunk);
  tokenizer.end();
  return root;
}

function splitEvery(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

describe('JsonTokenizer', () => {
  const doc = {
    '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.exportItemResponse)',
    value: [
      { itemId: 'AAMk/+=', changeKey: 'CQ\\"quote', data: 'QUJD'.repeat(500) },
      { itemId: 'x', error: { code: 'ErrorItemNotFound', message: 'Ünïcödé \u2028 \t tab 😀' } },
      { n: -12.5e3, t: true, f: false, z: null, nested: [[], {}, [1, [2]]] },
    ],
  };
  const text = JSON.stringify(doc).replace(/\//g, '\\/');

  it.each([1, 2, 3, 5, 7, 64, 100_000])('rebuilds the document when split every %i characters', (size) => {
    expect(rebuild(splitEvery(text, size))).toEqual(doc);
  });

  it('emits a long string in pieces, never as one token', () => {
    const pieces: number[] = [];
    const tokenizer = new JsonTokenizer((event, value) => {
      if (event === 'stringChunk') pieces.push(String(value).length);
    });
    const big = `{"data":"${'A'.repeat(1_000_000)}"}`;
    for (const chunk of splitEvery(big, 65_536)) tokenizer.write(chunk);
    tokenizer.end();
    expect(pieces.length).toBeGreaterThan(10);
    expect(pieces.reduce((a, b) => a + b, 0)).toBe(1_000_000);
  });

  it('reports a document cut short', () => {
    const tokenizer = new JsonTokenizer(() => {});
    tokenizer.write('{"value":[{"itemId":"a","data":"QUJD');
    expect(() => tokenizer.end()).toThrow(/ends early/);
  });

  it('rejects malformed JSON', () => {
    expect(() => rebuild(['{"a" 1}'])).toThrow(/expected ':'/);
    expect(() => rebuild(['[1,}'])).toThrow();
    expect(() => rebuild(['{"a":"\u0001"}'])).toThrow(/control character/);
    expect(() => rebuild(['{} x'])).toThrow(/after the end/);
  });

  it('finds escapes and control characters in any string of a chunk, not only its first (pretty-printed, many strings)', () => {
    const many = {
      value: Array.from({ length: 30 }, (_, i) => ({
        itemId: `id${i}`,
        changeKey: i % 7 === 3 ? 'a\\b"c' : `ck${i}`,
        data: 'QUJD'.repeat(i),
      })),
    };
    const pretty = JSON.stringify(many, null, 2); // newlines and spaces between tokens are whitespace, not string content
    for (const size of [pretty.length, 97, 13]) expect(rebuild(splitEvery(pretty, size))).toEqual(many);
    // A raw control character inside a changeKey near the end of one chunk, after backslashes and whitespace before it.
    const broken = pretty.replace('"ck25"', `"ck${String.fromCharCode(1)}"`);
    expect(broken).not.toBe(pretty);
    expect(() => rebuild([broken])).toThrow(/control character/);
  });
});

describe('base64 streaming', () => {
  it('decodes across arbitrary split points', () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37) % 256));
    const text = bytes.toString('base64');
    for (const size of [1, 2, 3, 5, 333]) {
      const decoder = new Base64Decoder();
      const out = Buffer.concat(splitEvery(text, size).map((piece) => decoder.push(piece)));
      decoder.end();
      expect(out.equals(bytes)).toBe(true);
    }
  });

  it('rejects text that is not base64, and a dangling quantum', () => {
    expect(() => new Base64Decoder().push('ab$d')).toThrow(/not valid base64/);
    const decoder = new Base64Decoder();
    decoder.push('QUJ');
    expect(() => decoder.end()).toThrow(/middle of a quantum/);
  });

  it('encodes a byte stream as one continuous base64 text', async () => {
    const bytes = Buffer.from(Array.from({ length: 10_001 }, (_, i) => (i * 11) % 256));
    const parts = [bytes.subarray(0, 1), bytes.subarray(1, 5), bytes.subarray(5, 4000), bytes.subarray(4000)];
    let text = '';
    for await (const piece of Readable.from(parts).pipe(new Base64EncodeStream())) text += String(piece);
    expect(text).toBe(bytes.toString('base64'));
  });
});
