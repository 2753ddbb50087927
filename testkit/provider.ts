// testkit/provider.ts
// The stand-in LLM provider, the one stand-in of the tests and the bench: a real HTTP server on a
// free port. Each request is handed to `handler` as an exchange as soon as its headers arrive, so
// a test can watch a body stream in, answer before it ends, or never answer. `afterBody` adapts a
// handler that wants the whole body first. What arrived is recorded twice: in `exchanges` at
// headers time (with when the first body byte came and when the gateway hung up), and in `seen`
// once the body has ended.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { asksForStream, chatCompletion, DONE_FRAME, eventFrame, type CompletionOptions } from './chat-completions';
import { spawnJsonChild } from './json-child';

/** Bodies up to this size are kept as text; larger ones are only counted (tests check their size). */
const KEPT_BODY_BYTES = 1024 * 1024;

export interface Exchange {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly headers: http.IncomingHttpHeaders;
  readonly url: string;
  /** performance.now() when the first body byte arrived. */
  firstBodyAt?: number;
  bodyBytes: number;
  /** Resolves with the whole body (as text) once it ended or broke off; never rejects. */
  readonly body: Promise<string>;
  /** performance.now() when the response closed before the provider ended it (the gateway hung up). */
  abortedAt?: number;
}

/** A request whose body has arrived, as the provider saw it. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** Called at headers time; it owns the answer. */
export type ExchangeHandler = (exchange: Exchange) => void;
/** Called once the body has arrived. */
export type BodyHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

/** An exchange handler that waits for the whole body, then runs `handler`. */
export function afterBody(handler: BodyHandler): ExchangeHandler {
  return (exchange) => { void exchange.body.then((body) => handler(exchange.req, exchange.res, body)); };
}

/** Writes a complete JSON answer with its Content-Length. */
export function sendJson(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Answers a chat completion (the default answer). */
export const answerCompletion: BodyHandler = (_req, res) => sendJson(res, 200, chatCompletion());

const DEFAULT_HANDLER = afterBody(answerCompletion);

export interface ProviderOptions {
  /** Keep `exchanges` and `seen` (default true); the bench turns it off, millions of requests would pile up. */
  readonly record?: boolean;
  /** The server's keep-alive timeout (Node's default when unset). */
  readonly keepAliveTimeoutMs?: number;
}

export class StandInProvider {
  readonly exchanges: Exchange[] = [];
  readonly seen: SeenRequest[] = [];
  handler: ExchangeHandler = DEFAULT_HANDLER;
  port = 0;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: ProviderOptions = {}) {
    this.server = http.createServer((req, res) => this.handler(this.exchangeOf(req, res)));
    if (options.keepAliveTimeoutMs !== undefined) this.server.keepAliveTimeout = options.keepAliveTimeoutMs;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string { return `http://127.0.0.1:${this.port}`; }

  /** Listens on `port` (a free one by default; a fixed one to come back where a stopped provider was). */
  async start(port = 0): Promise<this> {
    // The bench's gateways open thousands of provider connections in a few seconds, on a loop
    // that also sends 50,000 events a second: Node's default queue of 511 overflowed.
    await new Promise<void>((resolve) => this.server.listen({ port, host: '127.0.0.1', backlog: 4096 }, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** A timer the provider clears on reset/stop, so no test leaves one running. */
  every(ms: number, tick: () => void): NodeJS.Timeout {
    const timer = setInterval(tick, ms);
    this.timers.add(timer);
    return timer;
  }

  stopTimer(timer: NodeJS.Timeout): void {
    clearInterval(timer);
    this.timers.delete(timer);
  }

  /** Forgets what was recorded, clears the timers and answers completions again. */
  reset(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    this.exchanges.length = 0;
    this.seen.length = 0;
    this.handler = DEFAULT_HANDLER;
  }

  async stop(): Promise<void> {
    this.reset();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private exchangeOf(req: http.IncomingMessage, res: http.ServerResponse): Exchange {
    const record = this.options.record ?? true;
    const chunks: Buffer[] = [];
    const ended = (): string => {
      const body = Buffer.concat(chunks).toString('utf8');
      // Recorded before any afterBody handler runs: a test reading `seen` after the answer finds it.
      if (record) this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      return body;
    };
    const exchange: Exchange = {
      req, res, headers: req.headers, url: req.url ?? '', bodyBytes: 0,
      body: new Promise((resolve) => {
        req.on('end', () => resolve(ended()));
        req.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
      }),
    };
    req.on('data', (chunk: Buffer) => {
      exchange.firstBodyAt ??= performance.now();
      exchange.bodyBytes += chunk.length;
      if (exchange.bodyBytes <= KEPT_BODY_BYTES) chunks.push(chunk);
    });
    res.on('close', () => { if (!res.writableEnded) exchange.abortedAt = performance.now(); });
    if (record) this.exchanges.push(exchange);
    return exchange;
  }
}

export async function startProvider(options: ProviderOptions = {}): Promise<StandInProvider> {
  return new StandInProvider(options).start();
}

export interface StreamOptions {
  /** Response headers besides the event-stream content type. */
  readonly headers?: http.OutgoingHttpHeaders;
  /** The data of event n (default `{"n":n}`). */
  readonly data?: (n: number) => string;
}

/**
 * Sends `count` events, one every `intervalMs`, recording when each was written, then the
 * `[DONE]` event and the end. Returns the send times (performance.now(), index = n).
 */
export function streamEvents(provider: StandInProvider, exchange: Exchange, count: number, intervalMs: number, options: StreamOptions = {}): number[] {
  const sentAt: number[] = [];
  const data = options.data ?? ((n: number): string => JSON.stringify({ n }));
  exchange.res.writeHead(200, { 'content-type': 'text/event-stream', ...options.headers });
  exchange.res.flushHeaders();
  const timer = provider.every(intervalMs, () => {
    if (exchange.res.destroyed) { provider.stopTimer(timer); return; }
    if (sentAt.length === count) {
      provider.stopTimer(timer);
      exchange.res.end(DONE_FRAME);
      return;
    }
    sentAt.push(performance.now());
    exchange.res.write(eventFrame(data(sentAt.length - 1)));
  });
  return sentAt;
}

export interface ChatAnswerOptions {
  /** Events of a streamed answer. */
  readonly events: number;
  /** Gap between two events, ms. */
  readonly intervalMs: number;
  readonly completion?: CompletionOptions;
}

/**
 * What a chat provider does, for the bench: a body with `"stream": true` gets `events` events
 * carrying their sequence number and wall-clock send time (`{"seq":1,"t":…}`, so a client in
 * another process can tell each event's delay), anything else a completion.
 */
export function answerLikeAProvider(provider: StandInProvider, options: ChatAnswerOptions): ExchangeHandler {
  const completion = chatCompletion(options.completion);
  const wallNow = (): number => performance.timeOrigin + performance.now();
  return (exchange) => {
    void exchange.body.then((body) => {
      if (!asksForStream(body)) { sendJson(exchange.res, 200, completion); return; }
      streamEvents(provider, exchange, options.events, options.intervalMs, {
        headers: { 'cache-control': 'no-cache' },
        data: (n) => `{"seq":${n + 1},"t":${wallNow().toFixed(3)}}`,
      });
    });
  };
}

export interface ProviderProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** The stand-in provider in a process of its own (testkit/provider-process.ts); `env` as that file reads it. */
export async function startProviderProcess(env: Record<string, string> = {}): Promise<ProviderProcess> {
  const child = spawnJsonChild(path.join(__dirname, 'provider-process.js'), [], env);
  try {
    const { port } = await child.next<{ port: number }>('port');
    return { url: `http://127.0.0.1:${port}`, pid: child.child.pid as number, stop: () => child.stop() };
  } catch (error: unknown) {
    await child.stop();
    throw error;
  }
}
