import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { zipStream, type ZipEntry } from '../../shared/download/zip.js';

/**
 * A ZIP whose entry cannot be opened or breaks while read fails its stream, so the export's activity fails and
 * is retried: before, the first was an uncaught error (the worker process ended) and the second a stream that
 * never ended (the activity hung until its timeout).
 */

async function* entriesOf(...opens: Array<() => Promise<Readable>>): AsyncGenerator<ZipEntry> {
  for (const [index, open] of opens.entries()) yield { name: `${index}.eml`, mtime: new Date(0), open };
}

const good = async () => Readable.from([Buffer.from('Subject: fine\r\n\r\nbody\r\n')]);

async function drain(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

describe('a ZIP of EML files', () => {
  it('ends with every entry when all can be read', async () => {
    expect(await drain(zipStream(entriesOf(good, good)))).toBeGreaterThan(0);
  });

  it('fails its stream when an entry cannot be opened, with no uncaught error', async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record).on('unhandledRejection', record);
    try {
      const opened: string[] = [];
      const failing = async () => {
        opened.push('second');
        throw new Error('Get Blob: 503 ServerBusy');
      };
      const third = async () => {
        opened.push('third');
        return good();
      };
      await expect(drain(zipStream(entriesOf(good, failing, third)))).rejects.toThrow(/503 ServerBusy/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(uncaught).toEqual([]);
      expect(opened).toEqual(['second']);
    } finally {
      process.off('uncaughtException', record).off('unhandledRejection', record);
    }
  });

  it('fails its stream when an entry breaks while it is read, rather than never ending', async () => {
    const breaking = async () =>
      new Readable({
        read() {
          this.push(Buffer.from('Subject: half'));
          this.destroy(new Error('socket hang up'));
        },
      });
    await expect(drain(zipStream(entriesOf(good, breaking, good)))).rejects.toThrow(/socket hang up/);
  });
});
