// plugin/http/provider-message.ts
// The human-readable message of a provider's error body, found without holding the event loop or
// memory: a compressed body (the gateway asks for `identity`, but a provider may ignore it) is
// inflated off the loop and only up to the byte limit, and what is passed on has every configured
// secret replaced and is capped in length.

import zlib from 'node:zlib';
import { redactSecrets } from './secrets';

/** Longest message passed on, in characters (an ellipsis marks a cut). */
const MAX_DETAIL_CHARS = 1000;

type Inflate = (body: Buffer, options: zlib.ZlibOptions, callback: (error: Error | null, result: Buffer) => void) => void;

// Not brotli: its decoder allocates the stream's window (up to 16 MiB) and fills it before it
// emits output, so even with an output limit a kilobyte-sized bomb cost a pool thread ~30 ms and
// 16 MiB of touched memory, and a run of them raised the gateway's RSS by ~170 MiB that the
// allocator kept. A provider that answers brotli to our `identity` gets the generic message.
// gzip and deflate windows are 32 KiB.
const INFLATERS: Readonly<Record<string, Inflate>> = {
  gzip: zlib.gunzip,
  'x-gzip': zlib.gunzip,
  deflate: zlib.inflate,
};

/**
 * The body as sent before its content coding, or undefined when it cannot be read or would
 * inflate past `maxBytes`. zlib's asynchronous API runs on the thread pool and stops at
 * `maxOutputLength`, so a small bomb costs a few chunks of work, not gigabytes.
 */
function inflate(body: Buffer, contentEncoding: string, maxBytes: number): Promise<Buffer | undefined> {
  const encoding = contentEncoding.trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return Promise.resolve(body);
  const method = INFLATERS[encoding];
  if (method === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    method(body, { maxOutputLength: maxBytes }, (error, result) => resolve(error === null ? result : undefined));
  });
}

/**
 * The message in an error body (`detail`, `error.message`, `message`, `error`, or short plain
 * text), redacted and capped; undefined when there is none. Never rejects.
 */
export async function providerMessage(body: Buffer, contentType: string, contentEncoding: string, maxBytes: number): Promise<string | undefined> {
  const decoded = await inflate(body, contentEncoding, maxBytes);
  if (decoded === undefined) return undefined;
  const text = decoded.toString('utf8').trim();
  if (text === '') return undefined;
  let message: string | undefined;
  if (contentType.includes('json') || text.startsWith('{')) {
    try {
      message = messageIn(JSON.parse(text) as unknown);
    } catch {
      return undefined;
    }
  } else if (contentType.startsWith('text/plain') && !text.includes('<')) {
    message = text;
  }
  return message === undefined ? undefined : redactSecrets(message, MAX_DETAIL_CHARS);
}

function messageIn(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return typeof value === 'string' ? value : undefined;
  const record = value as Record<string, unknown>;
  for (const candidate of [record['detail'], (record['error'] as Record<string, unknown> | undefined)?.['message'], record['message'], record['error']]) {
    if (typeof candidate === 'string' && candidate.trim() !== '') return candidate;
  }
  return undefined;
}
