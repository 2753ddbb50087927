// bench/lib/provider-process.ts
// The stand-in provider of the benchmark, run in its own process so it never shares an event loop
// with the load tool or the gateway. Prints `{"port":N}` once listening.
// POST with `"stream":true` in the body → SSE: one event every SSE_INTERVAL_MS (100) for
// SSE_EVENTS (50) events, each carrying its send time (ms, sub-ms precision) in `data`.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench', object: 'chat.completion', created: 1, model: 'bench',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
});
const COMPLETION_LENGTH = String(Buffer.byteLength(COMPLETION));
const SSE_EVENTS = Number(process.env['SSE_EVENTS'] ?? 50);
const SSE_INTERVAL_MS = Number(process.env['SSE_INTERVAL_MS'] ?? 100);

const wallNow = (): number => performance.timeOrigin + performance.now();

function stream(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let sent = 0;
  const timer = setInterval(() => {
    if (res.destroyed) { clearInterval(timer); return; }
    sent += 1;
    res.write(`data: {"seq":${sent},"t":${wallNow().toFixed(3)}}\n\n`);
    if (sent >= SSE_EVENTS) {
      clearInterval(timer);
      res.end('data: [DONE]\n\n');
    }
  }, SSE_INTERVAL_MS);
  res.on('close', () => clearInterval(timer));
}

const server = http.createServer((req, res) => {
  let streaming = false;
  req.on('data', (chunk: Buffer) => { if (!streaming && chunk.includes('"stream":true')) streaming = true; });
  req.on('end', () => {
    if (streaming) { stream(res); return; }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': COMPLETION_LENGTH });
    res.end(COMPLETION);
  });
});
server.keepAliveTimeout = 60_000;
server.maxHeadersCount = 0;
server.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => { server.closeAllConnections(); server.close(() => process.exit(0)); });
