// plugin/policies/proxy/provider-exchange.ts
// One request's exchange with the provider, from connect to teardown: its state in fields, one
// way to end it. It forwards the body as it streams (or the body a policy already read), commits
// the client's status line with the answer's first byte (event streams at once), passes the
// answer on chunk by chunk with backpressure both ways (through the LLM-token reservation's tap,
// when the request has one), and ends in exactly one of: the provider's end, a failure (timeout,
// reset, refusal) mapped to the client's answer, the client leaving, or the client not reading.

import type { ClientRequest, IncomingMessage } from 'node:http';
import type { NextFunction, Response } from 'express';
import type { GatewayRequest } from '../../eg/types';
import { bodyToSend } from '../../http/chat-body';
import { inviteBody } from '../../http/expect-continue';
import { exchangeOf } from '../../http/exchange';
import type { ExchangeEnd, ResponseTap, UsageMeter } from '../../llm/usage-meter';
import { logger } from '../../logger';
import { upstreamErrors, upstreamFirstByteSeconds, upstreamSeconds } from '../../metrics';
import { lastBytes } from './event-stream';
import { endAfterFailure, reasonOf, type FailureReason } from './failure';
import { PhaseTimers } from './phase-timers';
import { answerHead, openProviderRequest, type AnswerHead, type ProviderRoute } from './provider-route';
import { forwardBody, refuseLargeBody } from './request-body';

const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

export class ProviderExchange {
  private upstream: ClientRequest | undefined;
  /** The LLM-token reservation to settle, when the limiter took one. */
  private readonly meter: UsageMeter | undefined;
  private tap: (ResponseTap & { flush(): Buffer }) | undefined;
  private readonly timers: PhaseTimers;
  private readonly startedAt = process.hrtime.bigint();
  private readonly labels: { pipeline: string };
  private upstreamResponse: IncomingMessage | undefined;
  /** The client's status line and headers, once the provider answered. */
  private head: AnswerHead | undefined;
  private finished = false;
  /** The status line and headers went to the client (or to the formatter holding an error). */
  private committed = false;
  /** Last bytes forwarded of an event stream: a failure must not glue its event to a half one. */
  private eventStreamTail: Buffer | undefined;
  /** True while the provider is paused because the client reads slower than it writes. */
  private waitingForClient = false;

  constructor(private readonly route: ProviderRoute, private readonly req: GatewayRequest, private readonly res: Response, private readonly path: string) {
    this.labels = { pipeline: req.egContext?.apiEndpoint?.apiEndpointName ?? 'unknown' };
    this.meter = exchangeOf(res).usage;
    this.timers = new PhaseTimers(route.options, (reason) => this.fail(reason));
  }

  start(next: NextFunction): void {
    this.timers.startTotal();
    this.res.on('drain', () => this.onClientDrained());
    // A client that goes away must not keep a (paid) provider call running.
    this.res.on('close', () => this.onClientClosed());
    const read = exchangeOf(this.res).body;
    if (read !== undefined) {
      // A policy read the body already (token limits, a key's models): send those bytes.
      void read.then((body) => {
        if (body === undefined || this.finished) return;
        const bytes = bodyToSend(body);
        this.open(bytes.length).end(bytes);
      });
      return;
    }
    const upstream = this.open(undefined);
    inviteBody(this.req, this.res);
    forwardBody(this.req, upstream, this.route.options.maxBodyBytes, {
      onTooLarge: () => { if (this.abort('failed')) refuseLargeBody(this.req, this.res); },
      onError: (error) => { if (this.abort('failed')) next(error); },
    });
  }

  /** Opens the provider request; `contentLength` when the whole body is known. */
  private open(contentLength: number | undefined): ClientRequest {
    const upstream = openProviderRequest(this.route, this.req, this.path, contentLength);
    this.upstream = upstream;
    this.timers.watchRequest(upstream);
    upstream.on('error', (error: NodeJS.ErrnoException) => this.fail(reasonOf(error), error));
    upstream.on('response', (providerRes: IncomingMessage) => this.onResponse(providerRes));
    return upstream;
  }

  private onResponse(providerRes: IncomingMessage): void {
    if (this.finished) { providerRes.destroy(); return; }
    this.upstreamResponse = providerRes;
    upstreamFirstByteSeconds.observe(this.labels, secondsSince(this.startedAt));
    this.timers.responded();
    const head = answerHead(this.route, providerRes);
    this.head = head;
    const exchange = exchangeOf(this.res);
    exchange.upstreamStatus = head.status;
    exchange.fromProvider = true;
    this.tap = this.meter?.answer(head.status, head.eventStream);
    if (head.eventStream) {
      this.eventStreamTail = Buffer.alloc(0);
      this.res.socket?.setNoDelay(true);
      this.commit();
      // Clients (the openai SDK among them) see the stream open before its first event.
      if (head.status < 400) this.res.flushHeaders();
    }
    // Any other answer commits its status line with its first body byte (or its end): until
    // then, a provider failure can still be answered with the contract's JSON.
    providerRes.on('data', (chunk: Buffer) => this.onData(chunk));
    providerRes.on('end', () => this.onEnd());
    providerRes.on('aborted', () => this.fail('reset'));
    providerRes.on('error', (error) => this.fail('reset', error));
    providerRes.on('close', () => { if (!providerRes.complete) this.fail('reset'); });
  }

  private commit(): void {
    if (this.committed || this.head === undefined) return;
    this.committed = true;
    this.res.writeHead(this.head.status, this.head.headers);
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    // The formatter already answered (an error body past its limit, or a status that says it
    // all): the rest of the provider's answer is not needed.
    if (this.res.writableEnded) { this.abort('failed'); return; }
    this.timers.refresh();
    const forwarded = this.tap === undefined ? chunk : this.tap.pass(chunk);
    if (forwarded.length === 0) return;
    if (this.eventStreamTail !== undefined) this.eventStreamTail = lastBytes(this.eventStreamTail, forwarded);
    this.commit();
    if (!this.res.write(forwarded)) {
      this.waitingForClient = true;
      this.upstreamResponse?.pause();
    }
  }

  private onEnd(): void {
    if (!this.settle('completed')) return;
    upstreamSeconds.observe(this.labels, secondsSince(this.startedAt));
    this.commit();
    const rest = this.tap?.flush();
    if (rest !== undefined && rest.length > 0) this.res.write(rest);
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
      this.abort('cancelled');
      upstreamErrors.inc({ reason: 'client_stalled' });
      logger.info({ requestId: this.req.egContext?.requestID }, 'client stopped reading: response and provider request closed');
      this.res.destroy();
      return;
    }
    this.abort('failed');
    upstreamErrors.inc({ reason });
    logger.warn({ reason, requestId: this.req.egContext?.requestID, err: error instanceof Error ? error.message : undefined }, 'provider request failed');
    endAfterFailure(this.res, reason, this.eventStreamTail);
  }

  private onClientClosed(): void {
    if (this.finished || this.res.writableEnded) return;
    this.abort('cancelled');
    upstreamErrors.inc({ reason: 'client_closed' });
    logger.debug({ requestId: this.req.egContext?.requestID }, 'client left: provider request aborted');
  }

  /** Marks the exchange over, stops its clocks and tells the reservation; false when it already was. */
  private settle(how: ExchangeEnd): boolean {
    if (this.finished) return false;
    this.finished = true;
    this.timers.clear();
    this.meter?.end(how);
    return true;
  }

  /** Ends the exchange early: both connections to the provider are closed. False when already over. */
  private abort(how: ExchangeEnd): boolean {
    if (!this.settle(how)) return false;
    this.upstream?.destroy();
    this.upstreamResponse?.destroy();
    return true;
  }
}
