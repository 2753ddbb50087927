// bench/lib/floor-proxy-process.ts
// Reference points for what any Node gateway costs before its own work: the smallest proxy Node's
// http module allows (a keep-alive agent, bodies piped both ways), bare (`node`) or mounted as an
// Express 4 route (`express`, the framework EG is built on). Prints `{"port":N}` once listening.
// Usage: node floor-proxy-process.js node|express <provider url>

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

const [mode, providerUrl] = process.argv.slice(2);
const provider = new URL(providerUrl ?? 'http://127.0.0.1:1');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

function proxy(req: http.IncomingMessage, res: http.ServerResponse): void {
  const upstream = http.request({
    host: provider.hostname, port: provider.port, method: req.method, path: req.url, headers: req.headers, agent,
  }, (providerRes) => {
    res.writeHead(providerRes.statusCode ?? 502, providerRes.headers);
    providerRes.pipe(res);
  });
  upstream.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
  req.pipe(upstream);
}

let handler: http.RequestListener = proxy;
if (mode === 'express') {
  const app = express();
  app.post(['/v1/chat', '/v1/chat/completions'], proxy);
  handler = app;
}
const server = http.createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
