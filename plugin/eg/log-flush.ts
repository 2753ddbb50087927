// plugin/eg/log-flush.ts
// pino flushes its sonic-boom destination synchronously when the process exits. sonic-boom 4
// retries a failed write there forever unless the error is EAGAIN/EBUSY (its flushSync sleeps
// 100 ms and tries again on EPIPE): once the reader of stdout is gone (a log shipper that died,
// a closed pipe) every exit path, graceful shutdown included, hung in that loop and SIGTERM no
// longer ended the process. This flushSync writes what is pending with the same retries on
// EAGAIN/EBUSY, bounded, and drops the rest on any other error: there is nobody left to read it.
// It reads sonic-boom's own buffer fields, checked at install: another shape keeps the original.

import fs from 'node:fs';

interface SonicBoomBuffers {
  fd: number;
  _bufs: Array<string | Buffer>;
  _writingBuf: string | Buffer;
  _writing: boolean;
  _len: number;
  flushSync(): void;
}

const RETRIES = 20;
const RETRY_WAIT_MS = 10;
const pause = new Int32Array(new SharedArrayBuffer(4));

function writeAll(fd: number, chunk: string | Buffer): void {
  let rest = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  let retries = 0;
  while (rest.length > 0) {
    try {
      rest = rest.subarray(fs.writeSync(fd, rest));
    } catch (error: unknown) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'EAGAIN' && code !== 'EBUSY') || retries >= RETRIES) throw error;
      retries += 1;
      Atomics.wait(pause, 0, 0, RETRY_WAIT_MS);
    }
  }
}

/** Replaces `destination.flushSync` with a bounded one; false when its fields are not there. */
export function boundExitFlush(destination: object): boolean {
  const sonic = destination as Partial<SonicBoomBuffers>;
  if (!Array.isArray(sonic._bufs) || typeof sonic.fd !== 'number' || typeof sonic.flushSync !== 'function' || sonic._writingBuf === undefined) return false;
  const boom = sonic as SonicBoomBuffers;
  boom.flushSync = function boundedFlushSync(): void {
    const pending = boom._writing || boom._writingBuf.length === 0 ? boom._bufs : [boom._writingBuf, ...boom._bufs];
    boom._bufs = [];
    boom._writingBuf = '';
    boom._len = 0;
    try {
      for (const chunk of pending) writeAll(boom.fd, chunk);
    } catch {
      // The reader is gone: what is left cannot be delivered.
    }
  };
  return true;
}
