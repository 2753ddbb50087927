// test/helpers/delay-proxy.ts
// A TCP proxy in front of a Redis that holds every byte Redis sends back for `delayMs` before
// passing it on: a slow link (or a slow Redis) as the gateway sees it, while Redis itself still
// answers in microseconds. Bytes toward Redis pass at once; bytes back keep their order even when
// `delayMs` changes mid-connection.

import net from 'node:net';
import type { AddressInfo } from 'node:net';

interface Held { readonly releaseAt: number; readonly chunk: Buffer }

export class DelayProxy {
  /** Delay applied to Redis → client bytes from now on, ms. */
  delayMs = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly upstreamPort: number, private readonly upstreamHost = '127.0.0.1') {
    this.server = net.createServer((client) => this.relay(client));
  }

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private relay(client: net.Socket): void {
    const upstream = net.connect(this.upstreamPort, this.upstreamHost);
    this.track(client);
    this.track(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const held: Held[] = [];
    let timer: NodeJS.Timeout | undefined;
    const release = (): void => {
      timer = undefined;
      const now = performance.now();
      while (held.length > 0 && (held[0] as Held).releaseAt <= now) client.write((held.shift() as Held).chunk);
      if (held.length > 0) timer = setTimeout(release, (held[0] as Held).releaseAt - now);
    };
    upstream.on('data', (chunk: Buffer) => {
      // Never before an earlier chunk: a lowered delay must not reorder replies.
      const last = held[held.length - 1];
      held.push({ releaseAt: Math.max(performance.now() + this.delayMs, last?.releaseAt ?? 0), chunk });
      timer ??= setTimeout(release, Math.max(0, (held[0] as Held).releaseAt - performance.now()));
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    const close = (): void => {
      if (timer) clearTimeout(timer);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }
}

export async function startDelayProxy(upstreamPort: number): Promise<DelayProxy> {
  return new DelayProxy(upstreamPort).start();
}
