// plugin/policies/detail-error-formatter/response-rewriter.ts
// Rewrites error responses that other code writes in its own format: EG's core policies
// (`res.sendStatus(401)`, the core proxy's text 502, ...) and the provider's own error bodies.
// It patches the app's response prototype once instead of wrapping each response, so the hot path
// pays nothing for responses that are not errors.
//
// An error response is held back whole: `writeHead()` only records the status and headers, and
// `write()` collects the body up to maxErrorBodyBytes. Nothing reaches the client until the end,
// so a provider that fails half way through its error body can still be answered with the
// contract's 500 (by whoever calls sendDetail meanwhile), and the provider's message can be read,
// off the event loop when it is compressed, before the one `{"detail"}` body is written.

import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { isDetailWritten, sendDetail } from '../../errors';
import { logger } from '../../logger';
import { MESSAGES, messageForStatus } from '../../messages';
import { providerMessage } from './provider-message';
import { attachedFormatterOptions, formatterOptionsOf } from './request-options';
import { upstreamFailureStatus } from './upstream-failure';
import type { DetailErrorFormatterOptions } from './options';

// A WeakSet, not a property on the response: a property added to every ServerResponse changes
// its shape per request, which the bench profile showed costing more than the set.
const providerResponses = new WeakSet<ServerResponse>();
const REWRITE = Symbol('llm-gateway.rewrite');

/**
 * `collecting`: status, headers and body are held. `finishing`: the end arrived and the message is
 * being read. `done`: the detail body is written (or the client left); later writes are dropped.
 */
type RewriteState = 'collecting' | 'finishing' | 'done';

interface PendingRewrite {
  state: RewriteState;
  readonly status: number;
  /** The detail decided at once; undefined while it is to be read from the provider's body. */
  readonly detail: string | undefined;
  readonly contentType: string;
  readonly contentEncoding: string;
  readonly chunks: Buffer[];
  bytes: number;
  readonly limit: number;
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

/**
 * The formatter options an error response is rewritten with, or undefined to leave it alone.
 * The provider's errors are always rewritten (with the defaults when no formatter step ran), so
 * its raw body, which may quote a secret, never reaches a client.
 */
function rewriteOptions(res: ServerResponse, status: number): DetailErrorFormatterOptions | undefined {
  if (status < 400 || isDetailWritten(res)) return undefined;
  return providerResponses.has(res) ? formatterOptionsOf(res) : attachedFormatterOptions(res);
}

function startRewrite(res: RewritableResponse, status: number, options: DetailErrorFormatterOptions): PendingRewrite {
  const verdict = verdictFor(res, status, providerResponses.has(res));
  const pending: PendingRewrite = {
    state: 'collecting',
    status: verdict.status,
    detail: verdict.detail,
    contentType: String(res.getHeader('content-type') ?? ''),
    contentEncoding: String(res.getHeader('content-encoding') ?? ''),
    chunks: [],
    bytes: 0,
    limit: options.maxErrorBodyBytes,
  };
  res[REWRITE] = pending;
  res.statusCode = verdict.status;
  prepareJsonHeaders(res);
  return pending;
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
    const options = this[REWRITE] === undefined ? rewriteOptions(this, statusCode) : undefined;
    if (!options) return (originalWriteHead as (...args: unknown[]) => ServerResponse).call(this, statusCode, ...rest);
    for (const arg of rest) if (typeof arg === 'object' && arg !== null) applyHeaders(this, arg as OutgoingHttpHeaders | string[]);
    const pending = startRewrite(this, statusCode, options);
    // A detail decided by the status alone needs no body: answer now rather than wait for it.
    if (pending.detail !== undefined) finish(this, pending);
    return this;
  } as typeof proto.writeHead;

  proto.write = function writeWithDetail(this: RewritableResponse, chunk: unknown, ...rest: unknown[]) {
    const pending = this[REWRITE];
    if (!pending) return (originalWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    if (pending.state === 'collecting') collect(pending, chunk, rest[0]);
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (callback) process.nextTick(callback);
    // A body past the limit will not be read: answer now instead of waiting for its end.
    if (pending.state === 'collecting' && pending.bytes > pending.limit) finish(this, pending);
    return true;
  } as typeof proto.write;

  proto.end = function endWithDetail(this: RewritableResponse, ...args: unknown[]) {
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    let pending = this[REWRITE];
    if (pending === undefined && !this.headersSent) {
      const options = rewriteOptions(this, this.statusCode);
      if (options) pending = startRewrite(this, this.statusCode, options);
    }
    if (pending === undefined || pending.state === 'done') return (originalEnd as (...a: unknown[]) => ServerResponse).apply(this, args);
    if (pending.state === 'finishing') return this;
    if (isDetailWritten(this)) {
      // A failure answer (sendDetail) replaces the provider's answer that was being held.
      pending.state = 'done';
      return (originalEnd as (...a: unknown[]) => ServerResponse).apply(this, args);
    }
    collect(pending, chunk, args[1]);
    finish(this, pending);
    return this;
  } as typeof proto.end;
}

/** Writes the one `{"detail"}` body, once the message is known; asynchronous for provider bodies. */
function finish(res: RewritableResponse, pending: PendingRewrite): void {
  pending.state = 'finishing';
  const write = (detail: string): void => {
    pending.state = 'done';
    pending.chunks.length = 0;
    // The client may have left while the body was read: there is no one to answer.
    if (res.destroyed) return;
    sendDetail(res, pending.status, detail);
  };
  if (pending.detail !== undefined) {
    write(pending.detail);
    return;
  }
  if (pending.bytes > pending.limit) {
    write(MESSAGES.providerError);
    return;
  }
  providerMessage(Buffer.concat(pending.chunks), pending.contentType, pending.contentEncoding, pending.limit)
    .then((message) => write(message ?? MESSAGES.providerError))
    .catch((error: unknown) => {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'could not answer a provider error');
      res.destroy();
    });
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
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return Buffer.from(String(chunk), typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
}

/** Keeps the body up to one byte past the limit: enough to know it was passed, never more. */
function collect(pending: PendingRewrite, chunk: unknown, encoding: unknown): void {
  if (pending.detail !== undefined || pending.bytes > pending.limit || chunk === undefined || chunk === null || typeof chunk === 'function') return;
  const buffer = toBuffer(chunk, encoding);
  const room = pending.limit + 1 - pending.bytes;
  pending.chunks.push(buffer.length > room ? buffer.subarray(0, room) : buffer);
  pending.bytes += Math.min(buffer.length, room);
}
