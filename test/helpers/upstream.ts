// test/helpers/upstream.ts
// The one stand-in of the suite: a real HTTP server playing the LLM provider. It records what
// reached it (method, path, headers, body) and answers with whatever handler the test sets.

import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type UpstreamHandler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

export const chatCompletion = (content = 'hello'): string => JSON.stringify({
  id: 'chatcmpl-test', object: 'chat.completion', created: 1, model: 'stub',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
});

export const answerCompletion: UpstreamHandler = (_req, res) => {
  const body = chatCompletion();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

export class Upstream {
  readonly seen: SeenRequest[] = [];
  handler: UpstreamHandler = answerCompletion;
  private readonly server: http.Server;
  private readonly sockets = new Set<import('node:net').Socket>();
  port = 0;

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        this.handler(req, res, body);
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  reset(): void {
    this.seen.length = 0;
    this.handler = answerCompletion;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export async function startUpstream(): Promise<Upstream> {
  return new Upstream().start();
}
