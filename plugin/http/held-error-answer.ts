// plugin/http/held-error-answer.ts
// An error answer held back whole: its status and headers are recorded, its body collected up to
// maxErrorBodyBytes, and nothing reaches the client until its one `{"detail"}` body is written.
// A provider that fails half way through its error body can still be answered with the
// contract's 500, and the provider's message is read, off the event loop when it is compressed.

import type { ServerResponse } from 'node:http';
import { sendDetail } from '../errors';
import { logger } from '../logger';
import { MESSAGES } from '../messages';
import type { DetailErrorFormatterOptions } from '../policies/detail-error-formatter/options';
import { exchangeOf } from './exchange';
import { verdictFor } from './error-verdict';
import { providerMessage } from './provider-message';

/**
 * `collecting`: status, headers and body are held. `finishing`: the end arrived and the message is
 * being read. `done`: the detail body is written (or the client left); later writes are dropped.
 */
type HeldState = 'collecting' | 'finishing' | 'done';

export interface HeldErrorAnswer {
  state: HeldState;
  readonly status: number;
  /** The detail decided at once; undefined while it is to be read from the provider's body. */
  readonly detail: string | undefined;
  readonly contentType: string;
  readonly contentEncoding: string;
  readonly chunks: Buffer[];
  bytes: number;
  readonly limit: number;
}

const BODY_HEADERS = ['content-length', 'content-encoding', 'transfer-encoding', 'etag', 'content-md5'];

/** Starts holding `res`'s error answer: the status the client will get, JSON headers. */
export function holdErrorAnswer(res: ServerResponse, status: number, options: DetailErrorFormatterOptions): HeldErrorAnswer {
  const exchange = exchangeOf(res);
  const verdict = verdictFor(res, status, exchange.fromProvider);
  const held: HeldErrorAnswer = {
    state: 'collecting',
    status: verdict.status,
    detail: verdict.detail,
    contentType: String(res.getHeader('content-type') ?? ''),
    contentEncoding: String(res.getHeader('content-encoding') ?? ''),
    chunks: [],
    bytes: 0,
    limit: options.maxErrorBodyBytes,
  };
  exchange.held = held;
  res.statusCode = verdict.status;
  for (const name of BODY_HEADERS) res.removeHeader(name);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  return held;
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
}

/** Keeps the body up to one byte past the limit: enough to know it was passed, never more. */
export function collectBody(held: HeldErrorAnswer, chunk: unknown, encoding: unknown): void {
  if (held.detail !== undefined || held.bytes > held.limit || chunk === undefined || chunk === null || typeof chunk === 'function') return;
  const buffer = toBuffer(chunk, encoding);
  const room = held.limit + 1 - held.bytes;
  held.chunks.push(buffer.length > room ? buffer.subarray(0, room) : buffer);
  held.bytes += Math.min(buffer.length, room);
}

/** Writes the one `{"detail"}` body, once the message is known; asynchronous for provider bodies. */
export function finishHeldAnswer(res: ServerResponse, held: HeldErrorAnswer): void {
  held.state = 'finishing';
  const write = (detail: string): void => {
    held.state = 'done';
    held.chunks.length = 0;
    // The client may have left while the body was read: there is no one to answer.
    if (res.destroyed) return;
    sendDetail(res, held.status, detail);
  };
  if (held.detail !== undefined) {
    write(held.detail);
    return;
  }
  if (held.bytes > held.limit) {
    write(MESSAGES.providerError);
    return;
  }
  providerMessage(Buffer.concat(held.chunks), held.contentType, held.contentEncoding, held.limit)
    .then((message) => write(message ?? MESSAGES.providerError))
    .catch((error: unknown) => {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'could not answer a provider error');
      res.destroy();
    });
}
