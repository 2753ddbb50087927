// bench/lib/paced-load-process.ts
// Open-loop load at a fixed rate (wrk2 is not available): request i is due at t0 + i/rate and is
// sent then whether or not earlier ones have answered; its latency counts from when it was DUE,
// so a stalled gateway cannot hide its queue (no coordinated omission). Runs in its own process.
// Input: env PACED_SPEC = JSON {url, rate, durationMs, headers, body, maxSockets}.
// Output: one line {"paced": {sent, ok, non2xx, errors, errorsByCode, p50Ms, p99Ms, p999Ms, maxMs, achievedRps}}.

import http from 'node:http';
import { performance } from 'node:perf_hooks';

interface Spec { url: string; rate: number; durationMs: number; headers: Record<string, string>; body: string; maxSockets?: number }

const spec = JSON.parse(process.env['PACED_SPEC'] ?? '{}') as Spec;
const target = new URL(spec.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: spec.maxSockets ?? 256 });
const body = Buffer.from(spec.body);
const headers = { ...spec.headers, 'content-length': String(body.length) };
const latencies: number[] = [];
let ok = 0;
let non2xx = 0;
let errors = 0;
const errorsByCode: Record<string, number> = {};
let sent = 0;
let done = 0;

function fire(dueAt: number): void {
  sent += 1;
  const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers, agent }, (res) => {
    res.on('data', () => undefined);
    res.on('end', () => {
      latencies.push(performance.now() - dueAt);
      if (res.statusCode !== undefined && res.statusCode < 300) ok += 1; else non2xx += 1;
      finish();
    });
  });
  req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  req.on('error', (error: NodeJS.ErrnoException) => {
    errors += 1;
    // Tells a gateway that dropped a request from a keep-alive socket closed under the client.
    const code = error.code ?? error.message;
    errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
    latencies.push(performance.now() - dueAt);
    finish();
  });
  req.end(body);
}

const start = performance.now();
const total = Math.floor((spec.rate * spec.durationMs) / 1000);
let scheduled = 0;
function tick(): void {
  const now = performance.now();
  while (scheduled < total && start + (scheduled * 1000) / spec.rate <= now) {
    fire(start + (scheduled * 1000) / spec.rate);
    scheduled += 1;
  }
  if (scheduled < total) setTimeout(tick, 1);
}
tick();

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

function finish(): void {
  done += 1;
  if (done < total) return;
  const elapsed = performance.now() - start;
  const sorted = latencies.sort((a, b) => a - b);
  process.stdout.write(`${JSON.stringify({ paced: {
    sent, ok, non2xx, errors, errorsByCode, achievedRps: (ok / elapsed) * 1000,
    p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), p999Ms: percentile(sorted, 99.9), maxMs: sorted[sorted.length - 1] ?? Number.NaN,
  } })}\n`);
  agent.destroy();
}
