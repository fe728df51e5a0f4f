import type { Readable } from 'node:stream';
import yazl from 'yazl';

/** One file of a ZIP: its name inside the archive, its time, and how to read it. */
export interface ZipEntry {
  name: string;
  mtime: Date;
  open: () => Promise<Readable>;
}

/**
 * The entries as one ZIP (yazl, deflated, ZIP64 where needed), each opened only when the writer reaches it, so
 * one entry's stream is open at a time however many there are. Entries are added as the source yields them.
 * An entry that cannot be opened or read fails the ZIP's stream: yazl reports the first on the ZipFile (with no
 * listener, an uncaught error that would end the process) and does not watch a lazy entry's stream at all (its
 * output would then never end).
 */
export function zipStream(entries: AsyncIterable<ZipEntry>): Readable {
  const zip = new yazl.ZipFile();
  const output = zip.outputStream as Readable;
  const fail = (error: unknown) => output.destroy(error instanceof Error ? error : new Error(String(error)));
  zip.on('error', fail);
  void (async () => {
    try {
      for await (const entry of entries) {
        if (output.destroyed) return;
        zip.addReadStreamLazy(entry.name, { mtime: entry.mtime }, (callback) => {
          entry.open().then(
            (stream) => callback(null, stream.once('error', fail)),
            (error: unknown) => callback(error, undefined as never),
          );
        });
      }
      zip.end();
    } catch (error) {
      fail(error);
    }
  })();
  return output;
}

/** A file name for an EML inside a ZIP: the subject made safe, and a number that keeps names apart. */
export function emlFileName(index: number, subject: string | undefined): string {
  const printable = [...(subject ?? '')].map((c) => (c.charCodeAt(0) < 0x20 ? ' ' : c)).join('');
  const safe = printable
    .replace(/[\\/:*?"<>|]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 80);
  return `${String(index + 1).padStart(5, '0')} ${safe || 'no subject'}.eml`;
}
