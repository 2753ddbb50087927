// bench/lib/stream-client-process.ts
// Opens N concurrent SSE streams (POST {"stream":true}) and measures, for every event, receive
// time minus the provider's send time carried in the event, how long each waited for its
// response headers, and how many were open at once (a gateway that accepts late never carries all
// N together). Own process: its event loop must not
// be the gateway's. Prints {"open": n} once every stream has its headers, then {"streams": {...}}
// when all ended, or at `deadlineMs` with what had not ended counted as such (a gateway that
// never answers some streams must not hang the bench).
// Input: env STREAM_SPEC = JSON {url, streams, openPerSecond, headers, openTimeoutMs, deadlineMs}.
//
// Cheap per event on purpose: 5,000 streams at one event per 100 ms are 50,000 events a second
// on a core the gateway also needs, and a client that reads late reports its own lag as the
// gateway's. So no string decoding or splitting per chunk (the send time is read from the bytes),
// and delays go to a histogram of 0.1 ms buckets instead of an array of 500,000 numbers.

import http from 'node:http';
import { performance } from 'node:perf_hooks';

interface Spec { url: string; streams: number; openPerSecond: number; headers: Record<string, string>; openTimeoutMs: number; deadlineMs: number }

const spec = JSON.parse(process.env['STREAM_SPEC'] ?? '{}') as Spec;
const target = new URL(spec.url);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const body = Buffer.from(JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hello' }] }));
const headers = { ...spec.headers, 'content-type': 'application/json', 'content-length': String(body.length) };

const BUCKET_MS = 0.1;
const histogram = new Uint32Array(100_000); // 0 to 10 s; later ones land in the last bucket
let events = 0;
let maxDelay = 0;
let opened = 0;
/** Streams with their headers and not yet ended, now and at most: how many were concurrent in fact. */
let openNow = 0;
let peakOpen = 0;
/** Per stream, ms from sending the request to its response headers (the gateway's accept and pipeline). */
const openMs: number[] = [];
let completed = 0;
let failed = 0;
let ended = 0;
let lastEvents = 0;
let reported = false;
const statuses: Record<string, number> = {};
const errors: Record<string, number> = {};
const wallNow = (): number => performance.timeOrigin + performance.now();

/**
 * The same delays by second of the run, in 1 ms buckets up to 1 s: a p99 made in a few bad
 * seconds (a loop stall, the ramp) reads differently from one spread over the run.
 */
const startedAt = wallNow();
const SECOND_BUCKETS = 1000;
const bySecond: Uint32Array[] = [];
function recordBySecond(receivedAt: number, delay: number): void {
  const second = Math.max(0, Math.floor((receivedAt - startedAt) / 1000));
  const counts = bySecond[second] ??= new Uint32Array(SECOND_BUCKETS);
  const bucket = Math.min(SECOND_BUCKETS - 1, Math.floor(delay));
  counts[bucket] = (counts[bucket] ?? 0) + 1;
}

const T_KEY = Buffer.from('"t":');
const DONE = Buffer.from('[DONE]');

/** The send times in one chunk: every `"t":<ms>` (a chunk is one event, sometimes several). */
function record(chunk: Buffer, receivedAt: number): void {
  let at = chunk.indexOf(T_KEY);
  while (at >= 0) {
    let end = at + T_KEY.length;
    while (end < chunk.length && ((chunk[end] as number) === 46 || ((chunk[end] as number) >= 48 && (chunk[end] as number) <= 57))) end += 1;
    const sentAt = Number(chunk.toString('latin1', at + T_KEY.length, end));
    if (Number.isFinite(sentAt)) {
      const delay = Math.max(0, receivedAt - sentAt);
      const bucket = Math.min(histogram.length - 1, Math.floor(delay / BUCKET_MS));
      histogram[bucket] = (histogram[bucket] ?? 0) + 1;
      recordBySecond(receivedAt, delay);
      events += 1;
      if (delay > maxDelay) maxDelay = delay;
    }
    at = chunk.indexOf(T_KEY, end);
  }
}

function openOne(): void {
  const sentAt = performance.now();
  let isOpen = false;
  const close = (): void => { if (isOpen) { isOpen = false; openNow -= 1; } };
  const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers }, (res) => {
    statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
    opened += 1;
    openMs.push(performance.now() - sentAt);
    isOpen = true;
    openNow += 1;
    if (openNow > peakOpen) peakOpen = openNow;
    if (opened === spec.streams) process.stdout.write(`${JSON.stringify({ open: opened })}\n`);
    // An event split across two chunks would lose its send time or its [DONE]: keep a short tail.
    let tail: Buffer | undefined;
    let sawDone = false;
    res.on('data', (chunk: Buffer) => {
      const receivedAt = wallNow();
      const bytes = tail === undefined ? chunk : Buffer.concat([tail, chunk]);
      const cut = bytes.lastIndexOf('\n\n') + 2; // 1 when there is no event end at all
      const whole = cut === bytes.length ? bytes : bytes.subarray(0, cut > 1 ? cut : 0);
      tail = whole === bytes ? undefined : Buffer.from(bytes.subarray(whole.length));
      record(whole, receivedAt);
      if (!sawDone && whole.includes(DONE)) { sawDone = true; lastEvents += 1; }
    });
    res.on('end', () => { close(); completed += 1; settle(); });
    res.on('error', (error: NodeJS.ErrnoException) => { close(); fail(error); });
  });
  req.on('error', (error: NodeJS.ErrnoException) => fail(error));
  req.end(body);
}

function fail(error: NodeJS.ErrnoException): void {
  const code = error.code ?? error.message;
  errors[code] = (errors[code] ?? 0) + 1;
  failed += 1;
  settle();
}

function percentile(p: number): number {
  const rank = Math.ceil((p / 100) * events);
  let seen = 0;
  for (let i = 0; i < histogram.length; i += 1) {
    seen += histogram[i] as number;
    if (seen >= rank && seen > 0) return Math.round((i + 1) * BUCKET_MS * 100) / 100;
  }
  return Number.NaN;
}

/** Per second of the run: events, and their delay's p50 and p99 (ms, 1 ms resolution). */
function perSecond(): Array<{ second: number; events: number; p50Ms: number; p99Ms: number }> {
  return bySecond.flatMap((counts, second) => {
    const events = counts.reduce((a, b) => a + b, 0);
    const at = (p: number): number => {
      const rank = Math.ceil((p / 100) * events);
      let seen = 0;
      for (let i = 0; i < counts.length; i += 1) if ((seen += counts[i] as number) >= rank) return i + 1;
      return SECOND_BUCKETS;
    };
    return events === 0 ? [] : [{ second, events, p50Ms: at(50), p99Ms: at(99) }];
  });
}

function settle(): void {
  ended += 1;
  if (ended >= spec.streams) report();
}

function report(): void {
  if (reported) return;
  reported = true;
  openMs.sort((a, b) => a - b);
  const openAt = (p: number): number => Math.round((openMs[Math.min(openMs.length - 1, Math.ceil((p / 100) * openMs.length) - 1)] ?? Number.NaN) * 10) / 10;
  process.stdout.write(`${JSON.stringify({ streams: {
    requested: spec.streams, opened, completed, failed, unfinished: spec.streams - ended, lastEvents, statuses, errors, events,
    delayP50Ms: percentile(50), delayP99Ms: percentile(99), delayMaxMs: Math.round(maxDelay * 100) / 100,
    peakOpen, openP50Ms: openAt(50), openP99Ms: openAt(99), perSecond: perSecond(),
  } })}\n`);
}

// Opened at openPerSecond, in batches every 10 ms: faster than a gateway accepts and forwards
// them while it also carries the streams already open overflows its accept queue (Node's backlog
// of 511), and the dropped handshakes then measure the kernel's SYN retries, not streams.
let started = 0;
const batch = (): void => {
  for (let i = 0; i < spec.openPerSecond / 100 && started < spec.streams; i += 1, started += 1) openOne();
  if (started < spec.streams) setTimeout(batch, 10);
};
batch();
setTimeout(() => {
  if (opened < spec.streams) process.stdout.write(`${JSON.stringify({ open: opened, partial: true })}\n`);
}, spec.openTimeoutMs).unref();
setTimeout(report, spec.deadlineMs).unref();
