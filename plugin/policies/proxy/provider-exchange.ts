// plugin/policies/proxy/provider-exchange.ts
// One request's exchange with the provider, from connect to teardown: its state in fields, one
// way to end it. It forwards the body as it streams, commits the client's status line with the
// answer's first byte (event streams at once), passes the answer on chunk by chunk with
// backpressure both ways, and ends in exactly one of: the provider's end, a failure (timeout,
// reset, refusal) mapped to the client's answer, the client leaving, or the client not reading.

import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { NextFunction, Response } from 'express';
import type { GatewayRequest } from '../../eg/types';
import { inviteBody } from '../../http/expect-continue';
import { exchangeOf } from '../../http/exchange';
import { logger } from '../../logger';
import { upstreamErrors, upstreamFirstByteSeconds, upstreamSeconds } from '../../metrics';
import { isEventStream, lastBytes } from './event-stream';
import { endAfterFailure, reasonOf, type FailureReason } from './failure';
import { pickHeaders } from './headers';
import { PhaseTimers } from './phase-timers';
import type { ProviderRoute } from './provider-route';
import { forwardBody, refuseLargeBody } from './request-body';

const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

export class ProviderExchange {
  private readonly upstream: ClientRequest;
  private readonly timers = new PhaseTimers((reason) => this.fail(reason));
  private readonly startedAt = process.hrtime.bigint();
  private readonly labels: { pipeline: string };
  private upstreamResponse: IncomingMessage | undefined;
  private finished = false;
  private connected = false;
  private sent = false;
  /** The status line and headers went to the client (or to the formatter holding an error). */
  private committed = false;
  /** Last bytes forwarded of an event stream: a failure must not glue its event to a half one. */
  private eventStreamTail: Buffer | undefined;
  /** True while the provider is paused because the client reads slower than it writes. */
  private waitingForClient = false;

  constructor(private readonly route: ProviderRoute, private readonly req: GatewayRequest, private readonly res: Response, path: string) {
    const headers = pickHeaders(req.headers, route.requestHeaders);
    if (route.credential !== undefined) headers[route.credential[0]] = route.credential[1];
    // Identity keeps event streams uncompressed end to end and error bodies readable.
    headers['accept-encoding'] = 'identity';
    if (req.egContext?.requestID !== undefined) headers['eg-request-id'] = req.egContext.requestID;
    this.labels = { pipeline: req.egContext?.apiEndpoint?.apiEndpointName ?? 'unknown' };
    const { target } = route;
    this.upstream = route.request({
      protocol: target.protocol, hostname: target.hostname, port: target.port,
      method: req.method, path: route.basePath + path, headers, agent: route.agent,
    });
  }

  start(next: NextFunction): void {
    this.timers.startTotal(this.route.options.totalTimeoutMs);
    this.upstream.on('socket', (socket: Socket) => this.onSocket(socket));
    this.upstream.on('finish', () => { this.sent = true; this.armFirstByte(); });
    this.upstream.on('error', (error: NodeJS.ErrnoException) => this.fail(reasonOf(error), error));
    this.upstream.on('response', (providerRes: IncomingMessage) => this.onResponse(providerRes));
    this.res.on('drain', () => this.onClientDrained());
    // A client that goes away must not keep a (paid) provider call running.
    this.res.on('close', () => this.onClientClosed());
    inviteBody(this.req, this.res);
    forwardBody(this.req, this.upstream, this.route.options.maxBodyBytes, {
      onTooLarge: () => { if (this.abort()) refuseLargeBody(this.req, this.res); },
      onError: (error) => { if (this.abort()) next(error); },
    });
  }

  private onSocket(socket: Socket): void {
    if (!socket.connecting) {
      this.connected = true;
      this.armFirstByte();
      return;
    }
    this.timers.arm(this.route.options.connectTimeoutMs, 'connect_timeout');
    socket.once('connect', () => { this.connected = true; this.armFirstByte(); });
  }

  /**
   * The first-byte clock starts once the whole request is on the wire: a client uploading a long
   * prompt slowly is not the provider being slow (the server's requestTimeout bounds the client).
   */
  private armFirstByte(): void {
    if (this.finished || this.upstreamResponse !== undefined || !this.connected) return;
    this.timers.arm(this.sent ? this.route.options.firstByteTimeoutMs : 0, 'first_byte_timeout');
  }

  private onResponse(providerRes: IncomingMessage): void {
    if (this.finished) { providerRes.destroy(); return; }
    this.upstreamResponse = providerRes;
    upstreamFirstByteSeconds.observe(this.labels, secondsSince(this.startedAt));
    this.timers.arm(this.route.options.idleTimeoutMs, 'idle_timeout');
    const status = providerRes.statusCode ?? 502;
    const exchange = exchangeOf(this.res);
    exchange.upstreamStatus = status;
    exchange.fromProvider = true;
    const headers = pickHeaders(providerRes.headers, this.route.responseHeaders);
    if (isEventStream(providerRes.headers['content-type'])) {
      headers['cache-control'] = 'no-cache';
      headers['x-accel-buffering'] = 'no';
      delete headers['content-length'];
      this.eventStreamTail = Buffer.alloc(0);
      this.res.socket?.setNoDelay(true);
      this.commit(status, headers);
      // Clients (the openai SDK among them) see the stream open before its first event.
      if (status < 400) this.res.flushHeaders();
    }
    // Any other answer commits its status line with its first body byte (or its end): until
    // then, a provider failure can still be answered with the contract's JSON.
    providerRes.on('data', (chunk: Buffer) => this.onData(status, headers, chunk));
    providerRes.on('end', () => this.onEnd(status, headers));
    providerRes.on('aborted', () => this.fail('reset'));
    providerRes.on('error', (error) => this.fail('reset', error));
    providerRes.on('close', () => { if (!providerRes.complete) this.fail('reset'); });
  }

  private commit(status: number, headers: OutgoingHttpHeaders): void {
    if (this.committed) return;
    this.committed = true;
    this.res.writeHead(status, headers);
  }

  private onData(status: number, headers: OutgoingHttpHeaders, chunk: Buffer): void {
    if (this.finished) return;
    // The formatter already answered (an error body past its limit, or a status that says it
    // all): the rest of the provider's answer is not needed.
    if (this.res.writableEnded) { this.abort(); return; }
    this.timers.refresh();
    if (this.eventStreamTail !== undefined) this.eventStreamTail = lastBytes(this.eventStreamTail, chunk);
    this.commit(status, headers);
    if (!this.res.write(chunk)) {
      this.waitingForClient = true;
      this.upstreamResponse?.pause();
    }
  }

  private onEnd(status: number, headers: OutgoingHttpHeaders): void {
    if (!this.settle()) return;
    upstreamSeconds.observe(this.labels, secondsSince(this.startedAt));
    this.commit(status, headers);
    this.res.end();
  }

  private onClientDrained(): void {
    this.waitingForClient = false;
    this.timers.refresh();
    this.upstreamResponse?.resume();
  }

  private fail(reason: FailureReason, error?: unknown): void {
    if (this.finished) return;
    // The idle gap ran out while the provider was paused for a client that read nothing: the
    // client is the one stuck. Nothing more can reach it, so both connections are closed (a last
    // event queued behind unread data would hold the socket open for as long as it stays stuck).
    if (reason === 'idle_timeout' && this.waitingForClient) {
      this.abort();
      upstreamErrors.inc({ reason: 'client_stalled' });
      logger.info({ requestId: this.req.egContext?.requestID }, 'client stopped reading: response and provider request closed');
      this.res.destroy();
      return;
    }
    this.abort();
    upstreamErrors.inc({ reason });
    logger.warn({ reason, requestId: this.req.egContext?.requestID, err: error instanceof Error ? error.message : undefined }, 'provider request failed');
    endAfterFailure(this.res, reason, this.eventStreamTail);
  }

  private onClientClosed(): void {
    if (this.finished || this.res.writableEnded) return;
    this.abort();
    upstreamErrors.inc({ reason: 'client_closed' });
    logger.debug({ requestId: this.req.egContext?.requestID }, 'client left: provider request aborted');
  }

  /** Marks the exchange over and stops its clocks; false when it already was. */
  private settle(): boolean {
    if (this.finished) return false;
    this.finished = true;
    this.timers.clear();
    return true;
  }

  /** Ends the exchange early: both connections to the provider are closed. False when already over. */
  private abort(): boolean {
    if (!this.settle()) return false;
    this.upstream.destroy();
    this.upstreamResponse?.destroy();
    return true;
  }
}
