import yauzl from 'yauzl';

/** mboxrd back into messages: split at `From ` lines, strip one `>` from escaped ones, drop the blank separator. */
export function readMboxrd(file: Buffer): Buffer[] {
  const text = file.toString('latin1');
  const parts = text.split(/^From [^\n]*\n/m).slice(1);
  return parts.map((part) => Buffer.from(part.replace(/\n$/, '').replace(/^>(>*From )/gm, '$1'), 'latin1'));
}

/** A ZIP's entries by name, each read whole. */
export function readZip(file: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(file, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      const entries = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) =>
        zip.openReadStream(entry, async (openError, stream) => {
          if (openError) return reject(openError);
          const chunks: Buffer[] = [];
          for await (const chunk of stream) chunks.push(chunk as Buffer);
          entries.set(entry.fileName, Buffer.concat(chunks));
          zip.readEntry();
        }),
      );
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}
