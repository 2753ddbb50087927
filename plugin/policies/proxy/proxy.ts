// plugin/policies/proxy/proxy.ts
// Forwards the request to the LLM provider and streams its answer back. Built on Node's http
// client rather than http-proxy because every phase needs its own handling: only allowlisted
// headers cross, in either direction, and the provider's key is injected; the provider gets an
// origin-form target; the body is counted as it streams (413 without buffering); each of connect /
// first byte / idle gap / whole exchange has its own timeout; a client that leaves aborts the
// provider call; a failure before anything reached the client is answered with the contract's
// JSON, and one after an event stream started ends it with a last `{"detail"}` event.

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { NextFunction, RequestHandler, Response } from 'express';
import type { EgConfig, GatewayRequest } from '../../eg-types';
import { GatewayError, sendDetail } from '../../errors';
import { logger } from '../../logger';
import { MESSAGES } from '../../messages';
import { upstreamErrors, upstreamFirstByteSeconds, upstreamSeconds } from '../../metrics';
import { resolveOptions } from '../../options';
import { registerSecrets } from '../../secrets';
import { ensureResponseRewriter, markProviderResponse } from '../detail-error-formatter/response-rewriter';
import { sendUpstreamFailure, type UpstreamFailureKind } from '../detail-error-formatter/upstream-failure';
import { inviteBody } from '../../http/expect-continue';
import { agentFor } from './agents';
import { isEventStream, lastBytes, lastDetailEvent } from './event-stream';
import { allowlist, GATEWAY_RESPONSE_HEADERS, gatewayRequestHeaders, pickHeaders, REQUEST_HEADERS, RESPONSE_HEADERS } from './headers';
import { DEFAULTS, PROVIDER_KEY_ENV, REMOVED_PARAMS, type ProxyOptions } from './options';
import { originForm } from './request-target';

type FailureReason = 'refused' | 'reset' | 'dns' | 'connect_timeout' | 'first_byte_timeout' | 'idle_timeout' | 'total_timeout' | 'other';

const KIND_OF_REASON: Readonly<Record<FailureReason, UpstreamFailureKind>> = {
  refused: 'unreachable', reset: 'reset', dns: 'unreachable', other: 'unreachable',
  connect_timeout: 'timeout', first_byte_timeout: 'timeout', idle_timeout: 'timeout', total_timeout: 'timeout',
};

export function providerProxy(params: Readonly<Record<string, unknown>>, config: EgConfig): RequestHandler {
  const options: ProxyOptions = {
    ...resolveOptions(DEFAULTS, params),
    serviceEndpoint: String(params['serviceEndpoint']),
    providerApiKey: typeof params['providerApiKey'] === 'string' ? params['providerApiKey'] : (process.env[PROVIDER_KEY_ENV] ?? ''),
  };
  const endpoint = config.gatewayConfig.serviceEndpoints?.[options.serviceEndpoint];
  const url = endpoint?.url ?? endpoint?.urls?.[0];
  if (url === undefined) throw new Error(`proxy: serviceEndpoint "${options.serviceEndpoint}" is not declared under serviceEndpoints`);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new Error(`proxy: serviceEndpoint "${options.serviceEndpoint}" has an invalid url`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new Error(`proxy: serviceEndpoint "${options.serviceEndpoint}" must be an http or https url`);
  }

  const agent = agentFor(target);
  const request = target.protocol === 'https:' ? https.request : http.request;
  const basePath = target.pathname.replace(/\/+$/, '');
  const forwardedRequestHeaders = allowlist(REQUEST_HEADERS, options.forwardRequestHeaders, gatewayRequestHeaders(options.providerKeyHeader));
  const forwardedResponseHeaders = allowlist(RESPONSE_HEADERS, options.forwardResponseHeaders, GATEWAY_RESPONSE_HEADERS);
  warnAboutConfig(params, [...forwardedRequestHeaders.refused, ...forwardedResponseHeaders.refused]);
  const credentialHeader = options.providerKeyHeader.toLowerCase();
  const credential = options.providerApiKey === '' ? undefined
    : (options.providerKeyScheme === '' ? options.providerApiKey : `${options.providerKeyScheme} ${options.providerApiKey}`);
  if (credential === undefined) logger.warn({ code: 'WRN_PROXY_NO_PROVIDER_KEY' }, `${PROVIDER_KEY_ENV} is not set: requests reach the provider without a key`);
  logger.info({
    serviceEndpoint: options.serviceEndpoint, provider: target.origin, connectTimeoutMs: options.connectTimeoutMs,
    firstByteTimeoutMs: options.firstByteTimeoutMs, idleTimeoutMs: options.idleTimeoutMs, totalTimeoutMs: options.totalTimeoutMs,
  }, 'proxy: provider and timeouts of this step');

  const middleware = function proxyToProvider(req: GatewayRequest, res: Response, next: NextFunction) {
    const declaredLength = Number(req.headers['content-length'] ?? 0);
    if (declaredLength > options.maxBodyBytes) {
      refuseLargeBody(req, res);
      return;
    }
    const path = originForm(req.url);
    if (path === undefined) {
      sendDetail(res, 400, MESSAGES.badRequest);
      req.resume();
      return;
    }
    // The provider's answers go through the formatter even in a pipeline without its step.
    ensureResponseRewriter(res);

    const headers = pickHeaders(req.headers, forwardedRequestHeaders.names);
    if (credential !== undefined) headers[credentialHeader] = credential;
    // Identity keeps event streams uncompressed end to end and error bodies readable.
    headers['accept-encoding'] = 'identity';
    if (req.egContext?.requestID !== undefined) headers['eg-request-id'] = req.egContext.requestID;

    const startedAt = process.hrtime.bigint();
    const upstream = request({
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: basePath + path,
      headers,
      agent,
    });
    let finished = false;
    let connected = false;
    let sent = false;
    let timer: NodeJS.Timeout | undefined;
    let totalTimer: NodeJS.Timeout | undefined;
    let upstreamResponse: IncomingMessage | undefined;
    // Last bytes forwarded of an event stream: a failure must not glue its event to a half one.
    let eventStreamTail: Buffer | undefined;
    // True while the provider is paused because the client reads slower than it writes.
    let waitingForClient = false;

    const arm = (ms: number, reason: FailureReason): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = ms > 0 ? setTimeout(() => fail(reason), ms) : undefined;
    };
    // The first-byte clock starts once the whole request is on the wire: a client uploading a
    // long prompt slowly is not the provider being slow (Node's requestTimeout bounds the client).
    const armFirstByte = (): void => {
      if (finished || upstreamResponse !== undefined) return;
      if (connected && sent) arm(options.firstByteTimeoutMs, 'first_byte_timeout');
      else if (connected) arm(0, 'first_byte_timeout');
    };
    const cleanup = (): void => {
      finished = true;
      if (timer !== undefined) clearTimeout(timer);
      if (totalTimer !== undefined) clearTimeout(totalTimer);
    };
    const fail = (reason: FailureReason, error?: unknown): void => {
      if (finished) return;
      if (reason === 'idle_timeout' && waitingForClient) {
        clientStalled();
        return;
      }
      cleanup();
      upstreamErrors.inc({ reason });
      logger.warn({ reason, requestId: req.egContext?.requestID, err: error instanceof Error ? error.message : undefined }, 'provider request failed');
      upstream.destroy();
      upstreamResponse?.destroy();
      endAfterFailure(res, KIND_OF_REASON[reason], eventStreamTail);
    };

    if (options.totalTimeoutMs > 0) totalTimer = setTimeout(() => fail('total_timeout'), options.totalTimeoutMs);
    upstream.on('socket', (socket) => {
      if (socket.connecting) {
        arm(options.connectTimeoutMs, 'connect_timeout');
        socket.once('connect', () => { connected = true; armFirstByte(); });
      } else {
        connected = true;
        armFirstByte();
      }
    });
    upstream.on('finish', () => { sent = true; armFirstByte(); });
    upstream.on('error', (error: NodeJS.ErrnoException) => fail(reasonOf(error), error));

    upstream.on('response', (providerRes) => {
      if (finished) { providerRes.destroy(); return; }
      upstreamResponse = providerRes;
      const labels = { pipeline: req.egContext?.apiEndpoint?.apiEndpointName ?? 'unknown' };
      upstreamFirstByteSeconds.observe(labels, secondsSince(startedAt));
      arm(options.idleTimeoutMs, 'idle_timeout');

      const status = providerRes.statusCode ?? 502;
      res.locals['upstreamStatus'] = status; // read by plugin/ops/request-observer.ts for the request log
      const responseHeaders = pickHeaders(providerRes.headers, forwardedResponseHeaders.names);
      markProviderResponse(res);
      let committed = false;
      const commit = (): void => {
        if (committed) return;
        committed = true;
        res.writeHead(status, responseHeaders);
      };
      if (isEventStream(providerRes.headers['content-type'])) {
        responseHeaders['cache-control'] = 'no-cache';
        responseHeaders['x-accel-buffering'] = 'no';
        delete responseHeaders['content-length'];
        eventStreamTail = Buffer.alloc(0);
        res.socket?.setNoDelay(true);
        commit();
        // Clients (the openai SDK among them) see the stream open before its first event.
        if (status < 400) res.flushHeaders();
      }
      // Any other answer commits its status line with its first body byte (or its end): until
      // then, a provider failure can still be answered with the contract's JSON.

      providerRes.on('data', (chunk: Buffer) => {
        if (finished) return;
        // The formatter already answered (an error body past its limit, or a status that says it all).
        if (res.writableEnded) { answeredEarly(); return; }
        if (timer !== undefined) timer.refresh();
        if (eventStreamTail !== undefined) eventStreamTail = lastBytes(eventStreamTail, chunk);
        commit();
        if (!res.write(chunk)) {
          waitingForClient = true;
          providerRes.pause();
        }
      });
      res.on('drain', () => {
        waitingForClient = false;
        if (timer !== undefined) timer.refresh();
        providerRes.resume();
      });
      providerRes.on('end', () => {
        if (finished) return;
        cleanup();
        upstreamSeconds.observe(labels, secondsSince(startedAt));
        commit();
        res.end();
      });
      providerRes.on('aborted', () => fail('reset'));
      providerRes.on('error', (error) => fail('reset', error));
      providerRes.on('close', () => { if (!providerRes.complete) fail('reset'); });
    });

    // The rest of the provider's answer is not needed: the client has its answer.
    const answeredEarly = (): void => {
      if (finished) return;
      cleanup();
      upstream.destroy();
      upstreamResponse?.destroy();
    };

    // The idle gap ran out while the provider was paused for a client that read nothing: the
    // client is the one stuck. Nothing more can reach it, so both connections are closed (a last
    // event queued behind unread data would hold the socket open for as long as it stays stuck).
    const clientStalled = (): void => {
      cleanup();
      upstreamErrors.inc({ reason: 'client_stalled' });
      logger.info({ requestId: req.egContext?.requestID }, 'client stopped reading: response and provider request closed');
      upstream.destroy();
      upstreamResponse?.destroy();
      res.destroy();
    };

    // A client that goes away must not keep a (paid) provider call running.
    res.on('close', () => {
      if (finished || res.writableEnded) return;
      cleanup();
      upstreamErrors.inc({ reason: 'client_closed' });
      logger.debug({ requestId: req.egContext?.requestID }, 'client left: provider request aborted');
      upstream.destroy();
      upstreamResponse?.destroy();
    });

    inviteBody(req, res);
    forwardBody(req, upstream, options.maxBodyBytes, () => {
      if (finished) return;
      cleanup();
      upstream.destroy();
      upstreamResponse?.destroy();
      refuseLargeBody(req, res);
    }, (error) => {
      if (finished) return;
      cleanup();
      upstream.destroy();
      next(error);
    });
  };
  registerSecrets(middleware, [options.providerApiKey]);
  return middleware;
}

/** Warnings about a config that runs, but not as its author may think. */
function warnAboutConfig(params: Readonly<Record<string, unknown>>, refusedHeaders: readonly string[]): void {
  for (const [name, successor] of Object.entries(REMOVED_PARAMS)) {
    if (params[name] !== undefined) logger.warn({ code: 'WRN_PROXY_REMOVED_PARAM', param: name }, `proxy: ${name} is no longer read; use ${successor}`);
  }
  for (const name of refusedHeaders) {
    logger.warn({ code: 'WRN_PROXY_HEADER_NOT_FORWARDABLE', header: name }, `proxy: ${name} is the gateway's own to set and is never forwarded`);
  }
}

/** Streams the request body upstream, counting bytes; never holds more than a chunk. */
function forwardBody(
  req: GatewayRequest,
  upstream: http.ClientRequest,
  maxBytes: number,
  onTooLarge: () => void,
  onError: (error: unknown) => void,
): void {
  const source = (req.egContext?.requestStream ?? req) as NodeJS.ReadableStream;
  let received = 0;
  const onData = (chunk: Buffer | string): void => {
    received += chunk.length;
    if (received > maxBytes) {
      source.removeListener('data', onData);
      onTooLarge();
      return;
    }
    if (!upstream.write(chunk)) source.pause();
  };
  upstream.on('drain', () => source.resume());
  source.on('data', onData);
  source.on('end', () => { if (received <= maxBytes) upstream.end(); });
  source.on('error', () => onError(new GatewayError(400, MESSAGES.badRequest)));
}

function refuseLargeBody(req: GatewayRequest, res: Response): void {
  sendDetail(res, 413, MESSAGES.payloadTooLarge);
  // The rest of the body is read and dropped (Node's request timeout bounds it) rather than cut
  // off: a client still writing when the socket closes sees EPIPE instead of our 413.
  req.resume();
}

function endAfterFailure(res: Response, kind: UpstreamFailureKind, eventStreamTail: Buffer | undefined): void {
  // Nothing reached the client yet (no status line committed, or an error answer the formatter
  // still holds): it gets the contract's JSON like any other provider failure.
  if (!res.headersSent) {
    sendUpstreamFailure(res, kind);
    return;
  }
  if (res.writableEnded) return;
  if (eventStreamTail !== undefined) {
    res.end(lastDetailEvent(eventStreamTail));
    return;
  }
  // A plain body that stopped half way cannot be repaired; a reset tells the client so.
  res.destroy();
}

function reasonOf(error: NodeJS.ErrnoException): FailureReason {
  switch (error.code) {
    case 'ECONNREFUSED': return 'refused';
    case 'ECONNRESET': case 'EPIPE': return 'reset';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'dns';
    default: return 'other';
  }
}

function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
