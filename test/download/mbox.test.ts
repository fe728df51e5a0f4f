import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { asctime, MboxrdEscape, mboxStream } from '../../shared/download/mbox.js';
import { emlFileName } from '../../shared/download/zip.js';

async function escaped(chunks: string[]): Promise<string> {
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks.map((c) => Buffer.from(c, 'latin1'))).pipe(new MboxrdEscape()))
    out.push(chunk as Buffer);
  return Buffer.concat(out).toString('latin1');
}

describe('mboxrd', () => {
  it('quotes every line that reads From after any number of >, and nothing else', async () => {
    const message = 'Subject: x\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\nFromage\r\n From not\r\nFrom';
    const expected = 'Subject: x\r\n\r\n>From here\r\n>>From there\r\n>>>From far\r\nFromage\r\n From not\r\nFrom';
    expect(await escaped([message])).toBe(expected);
    // However the bytes arrive: one at a time, or cut inside a quoted line.
    expect(await escaped([...message])).toBe(expected);
    expect(await escaped(['Subject: x\r\n\r\n>', '>Fr', 'om far\r\n'])).toBe('Subject: x\r\n\r\n>>>From far\r\n');
  });

  it('starts each message with a From line, and separates messages so a reader gets them back', async () => {
    const bodies = ['A: 1\r\n\r\nFrom me\r\n', 'B: 2\r\n\r\nno newline at the end'];
    const file = mboxStream(
      (async function* () {
        for (const body of bodies)
          yield { date: new Date('2026-12-02T02:11:02Z'), open: async () => Readable.from([Buffer.from(body)]) };
      })(),
    );
    const chunks: Buffer[] = [];
    for await (const chunk of file) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString('latin1')).toBe(
      'From MAILER-DAEMON Wed Dec  2 02:11:02 2026\nA: 1\r\n\r\n>From me\r\n\n' +
        'From MAILER-DAEMON Wed Dec  2 02:11:02 2026\nB: 2\r\n\r\nno newline at the end\n\n',
    );
    expect(asctime(new Date('2026-01-09T08:07:06Z'))).toBe('Fri Jan  9 08:07:06 2026');
  });

  it('names ZIP entries by subject, made safe, and apart by number', () => {
    expect(emlFileName(0, 'Re: Q3 / budget?')).toBe('00001 Re Q3 budget .eml'.replace(' .eml', '.eml'));
    expect(emlFileName(41, undefined)).toBe('00042 no subject.eml');
    expect(emlFileName(1, 'a\u0000b')).toBe('00002 a b.eml');
  });
});
