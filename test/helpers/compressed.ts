// test/helpers/compressed.ts
// Compressed bodies for the provider-error tests. A bomb is zeros streamed through zlib, so that a
// body inflating to gigabytes is built without the test process ever holding gigabytes.

import zlib from 'node:zlib';

export type BodyEncoding = 'br' | 'gzip';

const CHUNK = Buffer.alloc(16 * 1024 * 1024, 0);

function compressor(encoding: BodyEncoding): zlib.BrotliCompress | zlib.Gzip {
  // Brotli quality 4 with a 16 MiB window turns 1 GiB of zeros into about 800 bytes in a second;
  // higher qualities shrink it little more and take minutes. Gzip cannot beat about 1:1000.
  return encoding === 'br'
    ? zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_LGWIN]: 24 } })
    : zlib.createGzip({ level: 9 });
}

/** `inflatedBytes` zeros (rounded up to 16 MiB), compressed. */
export function compressedZeros(encoding: BodyEncoding, inflatedBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const stream = compressor(encoding);
    const out: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => out.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(out)));
    stream.on('error', reject);
    let left = inflatedBytes;
    const pump = (): void => {
      while (left > 0) {
        left -= CHUNK.length;
        if (!stream.write(CHUNK)) { stream.once('drain', pump); return; }
      }
      stream.end();
    };
    pump();
  });
}

/** A small text, compressed. */
export function compressedText(encoding: BodyEncoding, text: string): Buffer {
  return encoding === 'br' ? zlib.brotliCompressSync(text) : zlib.gzipSync(text);
}
