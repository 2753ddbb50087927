// bench/lib/stream-client-process.ts
// Opens N concurrent SSE streams (POST {"stream":true}) and measures, for every event, receive
// time minus the provider's send time carried in the event. Own process: its event loop must not
// be the gateway's. Prints {"open": n} once every stream has its headers (the orchestrator then
// samples the gateway's RSS), then {"streams": {...}} when all ended.
// Input: env STREAM_SPEC = JSON {url, streams, headers, openTimeoutMs}.

import http from 'node:http';
import { performance } from 'node:perf_hooks';

interface Spec { url: string; streams: number; headers: Record<string, string>; openTimeoutMs: number }

const spec = JSON.parse(process.env['STREAM_SPEC'] ?? '{}') as Spec;
const target = new URL(spec.url);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const body = Buffer.from(JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hello' }] }));
const delays: number[] = [];
let opened = 0;
let completed = 0;
let failed = 0;
let ended = 0;
let lastEvents = 0;
const statuses: Record<string, number> = {};
const wallNow = (): number => performance.timeOrigin + performance.now();

function openOne(): void {
  const req = http.request({
    host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent,
    headers: { ...spec.headers, 'content-type': 'application/json', 'content-length': String(body.length) },
  }, (res) => {
    statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
    opened += 1;
    if (opened === spec.streams) process.stdout.write(`${JSON.stringify({ open: opened })}\n`);
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const receivedAt = wallNow();
      buffer += chunk;
      let cut = buffer.indexOf('\n\n');
      while (cut >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const match = /"t":([\d.]+)/.exec(event);
        if (match) delays.push(receivedAt - Number(match[1]));
        if (event.includes('[DONE]')) lastEvents += 1;
        cut = buffer.indexOf('\n\n');
      }
    });
    res.on('end', () => { completed += 1; settle(); });
    res.on('error', () => { failed += 1; settle(); });
  });
  req.on('error', () => { failed += 1; settle(); });
  req.end(body);
}

function settle(): void {
  ended += 1;
  if (ended < spec.streams) return;
  const sorted = delays.sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  process.stdout.write(`${JSON.stringify({ streams: {
    requested: spec.streams, opened, completed, failed, lastEvents, statuses, events: sorted.length,
    delayP50Ms: at(50), delayP99Ms: at(99), delayMaxMs: sorted[sorted.length - 1] ?? Number.NaN,
  } })}\n`);
}

// Open in batches so the accept queues (gateway and provider) are not the thing measured.
let started = 0;
const batch = (): void => {
  for (let i = 0; i < 100 && started < spec.streams; i += 1, started += 1) openOne();
  if (started < spec.streams) setTimeout(batch, 10);
};
batch();
setTimeout(() => {
  if (opened < spec.streams) process.stdout.write(`${JSON.stringify({ open: opened, partial: true })}\n`);
}, spec.openTimeoutMs).unref();
