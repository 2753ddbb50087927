// plugin/policies/detail-error-formatter/response-rewriter.ts
// Rewrites error responses that other code writes in its own format: EG's core policies
// (`res.sendStatus(401)`, the core proxy's text 502, ...) and the provider's own error bodies.
// It patches the app's response prototype once instead of wrapping each response, so the hot path
// pays nothing for responses that are not errors.
//
// Two cases: a body handed to `end()` whole (Express's send) is rewritten there; a response that
// starts with `writeHead()` (a proxied provider answer) gets its status decided at once and its
// body, up to a bound, read to find the provider's message.

import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'node:zlib';
import { detailBody, isDetailWritten, sendDetail } from '../../errors';
import { MESSAGES, messageForStatus } from '../../messages';
import { logger } from '../../logger';
import { attachedFormatterOptions } from './request-options';
import { upstreamFailureStatus } from './upstream-failure';
import type { DetailErrorFormatterOptions } from './options';

// A WeakSet, not a property on the response: a property added to every ServerResponse changes
// its shape per request, which the bench profile showed costing more than the set.
const providerResponses = new WeakSet<ServerResponse>();
const REWRITE = Symbol('llm-gateway.rewrite');

interface PendingRewrite {
  status: number;
  fromProvider: boolean;
  contentType: string;
  contentEncoding: string;
  chunks: Buffer[];
  bytes: number;
  limit: number;
}

type RewritableResponse = ServerResponse & { [REWRITE]?: PendingRewrite };

/** Marks a response as the provider's answer, so that its errors are judged as the provider's. */
export function markProviderResponse(res: ServerResponse): void {
  providerResponses.add(res);
}

interface Verdict { status: number; detail: string | undefined }

/**
 * The status the client gets for an error status. `detail` undefined means "read it from the body".
 * A provider 401/403/407 means our provider key is wrong: the client can do nothing about it, and
 * the provider's message may quote part of our key, so it becomes a 500 and nothing is passed on.
 */
function verdictFor(res: ServerResponse, status: number, fromProvider: boolean): Verdict {
  if (fromProvider) {
    if (status === 401 || status === 403 || status === 407) {
      logger.error({ providerStatus: status }, 'the LLM provider refused the gateway\'s credentials; check LLM_PROVIDER_API_KEY');
      return { status: upstreamFailureStatus(res, 'misconfigured'), detail: MESSAGES.internalError };
    }
    if (status >= 500) return { status: upstreamFailureStatus(res, 'server-error'), detail: MESSAGES.internalError };
    return { status, detail: undefined };
  }
  if (status === 502 || status === 503) return { status: upstreamFailureStatus(res, 'unreachable'), detail: MESSAGES.internalError };
  if (status === 504) return { status: upstreamFailureStatus(res, 'timeout'), detail: MESSAGES.internalError };
  if (status >= 500) return { status: 500, detail: MESSAGES.internalError };
  return { status, detail: messageForStatus(status) };
}

function needsRewrite(res: RewritableResponse, status: number): DetailErrorFormatterOptions | undefined {
  if (status < 400 || isDetailWritten(res)) return undefined;
  return attachedFormatterOptions(res);
}

const patchedPrototypes = new WeakSet<object>();

/** Patches the prototype `res` inherits from (Express's `app.response`), once. */
export function ensureResponseRewriter(res: ServerResponse): void {
  const proto = Object.getPrototypeOf(res) as ServerResponse;
  if (patchedPrototypes.has(proto)) return;
  patchedPrototypes.add(proto);

  const originalWriteHead = proto.writeHead;
  const originalWrite = proto.write;
  const originalEnd = proto.end;

  proto.writeHead = function writeHeadWithDetail(this: RewritableResponse, statusCode: number, ...rest: unknown[]) {
    const options = needsRewrite(this, statusCode);
    if (!options) return (originalWriteHead as (...args: unknown[]) => ServerResponse).call(this, statusCode, ...rest);
    for (const arg of rest) if (typeof arg === 'object' && arg !== null) applyHeaders(this, arg as OutgoingHttpHeaders | string[]);
    const fromProvider = providerResponses.has(this);
    const verdict = verdictFor(this, statusCode, fromProvider);
    this[REWRITE] = {
      status: verdict.status,
      fromProvider,
      contentType: String(this.getHeader('content-type') ?? ''),
      contentEncoding: String(this.getHeader('content-encoding') ?? ''),
      chunks: [],
      bytes: 0,
      limit: verdict.detail === undefined ? options.maxErrorBodyBytes : 0,
    };
    if (verdict.detail !== undefined) this[REWRITE].chunks.push(detailBody(verdict.detail));
    prepareJsonHeaders(this);
    return originalWriteHead.call(this, verdict.status);
  } as typeof proto.writeHead;

  proto.write = function writeWithDetail(this: RewritableResponse, chunk: unknown, ...rest: unknown[]) {
    const pending = this[REWRITE];
    if (!pending) return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    collect(pending, chunk, rest[0]);
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (callback) process.nextTick(callback);
    return true;
  } as typeof proto.write;

  proto.end = function endWithDetail(this: RewritableResponse, ...args: unknown[]) {
    const pending = this[REWRITE];
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    if (pending) {
      delete this[REWRITE];
      collect(pending, chunk, args[1]);
      return (originalEnd as (...a: unknown[]) => ServerResponse).call(this, finalBody(pending));
    }
    if (!this.headersSent && needsRewrite(this, this.statusCode)) {
      const verdict = verdictFor(this, this.statusCode, providerResponses.has(this));
      const detail = verdict.detail
        ?? providerMessage(toBuffer(chunk, args[1]), String(this.getHeader('content-type') ?? ''), String(this.getHeader('content-encoding') ?? ''))
        ?? messageForStatus(verdict.status);
      sendDetail(this, verdict.status, detail);
      return this;
    }
    return (originalEnd as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof proto.end;
}

function applyHeaders(res: ServerResponse, headers: OutgoingHttpHeaders | string[]): void {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) res.setHeader(String(headers[i]), String(headers[i + 1]));
    return;
  }
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value);
}

function prepareJsonHeaders(res: ServerResponse): void {
  for (const name of ['content-length', 'content-encoding', 'transfer-encoding', 'etag', 'content-md5']) res.removeHeader(name);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (chunk === undefined || chunk === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
}

function collect(pending: PendingRewrite, chunk: unknown, encoding: unknown): void {
  if (pending.bytes >= pending.limit || chunk === undefined || chunk === null || typeof chunk === 'function') return;
  const buffer = toBuffer(chunk, encoding);
  const room = pending.limit - pending.bytes;
  pending.chunks.push(buffer.length > room ? buffer.subarray(0, room) : buffer);
  pending.bytes += Math.min(buffer.length, room);
}

function finalBody(pending: PendingRewrite): Buffer {
  if (pending.limit === 0) return pending.chunks[0] ?? detailBody(messageForStatus(pending.status));
  const detail = providerMessage(Buffer.concat(pending.chunks), pending.contentType, pending.contentEncoding)
    ?? (pending.fromProvider ? MESSAGES.providerError : messageForStatus(pending.status));
  return detailBody(detail);
}

const MAX_DETAIL_CHARS = 1000;

/** The human-readable message in an error body: `detail`, `error.message`, `message`, `error`, or short text. */
export function providerMessage(body: Buffer, contentType: string, contentEncoding: string): string | undefined {
  let text: string;
  try {
    text = decode(body, contentEncoding.toLowerCase()).toString('utf8').trim();
  } catch {
    return undefined;
  }
  if (text === '') return undefined;
  if (contentType.includes('json') || text.startsWith('{')) {
    try {
      return clip(messageIn(JSON.parse(text) as unknown));
    } catch {
      return undefined;
    }
  }
  if (contentType.startsWith('text/plain') && !text.includes('<')) return clip(text);
  return undefined;
}

function messageIn(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return typeof value === 'string' ? value : undefined;
  const record = value as Record<string, unknown>;
  for (const candidate of [record['detail'], (record['error'] as Record<string, unknown> | undefined)?.['message'], record['message'], record['error']]) {
    if (typeof candidate === 'string' && candidate.trim() !== '') return candidate;
  }
  return undefined;
}

function clip(message: string | undefined): string | undefined {
  if (message === undefined) return undefined;
  return message.length > MAX_DETAIL_CHARS ? `${message.slice(0, MAX_DETAIL_CHARS)}…` : message;
}

function decode(body: Buffer, encoding: string): Buffer {
  if (encoding === '' || encoding === 'identity') return body;
  if (encoding === 'gzip' || encoding === 'x-gzip') return gunzipSync(body);
  if (encoding === 'deflate') return inflateSync(body);
  if (encoding === 'br') return brotliDecompressSync(body);
  throw new Error(`unsupported content-encoding ${encoding}`);
}
