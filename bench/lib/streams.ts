// bench/lib/streams.ts
// The streams section of `npm run bench`: N concurrent SSE streams through one gateway, opened
// by bench/lib/stream-client-process.ts in a process of its own, while the gateway's RSS, open
// descriptors and CPU (and the client's CPU: a client that cannot read every event on time
// inflates the delay it reports) are sampled from /proc.

import fs from 'node:fs';
import path from 'node:path';
import { spawnJsonChild } from '../../testkit/json-child';
import { cpuMicrosOf, fdCountOf, rssOf } from '../../testkit/proc';

export interface Streams {
  requested: number; opened: number; completed: number; failed: number; unfinished: number; lastEvents: number;
  statuses: Record<string, number>; errors: Record<string, number>;
  events: number; delayP50Ms: number; delayP99Ms: number; delayMaxMs: number;
  /** Streams open at once at most, and ms from request to response headers (p50, p99). */
  peakOpen: number; openP50Ms: number; openP99Ms: number;
  /** By second of the run (in the JSON only): events and their delay's p50/p99, ms. */
  perSecond: Array<{ second: number; events: number; p50Ms: number; p99Ms: number }>;
  rssBefore?: number; rssPeak?: number; bytesPerStream?: number; fdPeak?: number;
  /** CPU per second of the run, as a share of one core: the gateway's and the stream client's. */
  gatewayCpu?: number; clientCpu?: number;
}

export interface StreamsSpec {
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The gateway's pid; undefined for the provider direct (nothing to sample). */
  readonly pid: number | undefined;
  readonly streams: number;
  /** How long each stream lasts (the provider's events × interval), s. */
  readonly seconds: number;
}

/** Descriptors a process may open: [soft, hard] from /proc/<pid>/limits. */
function fileLimitsOf(pid: number | 'self'): [number, number] {
  const line = fs.readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const [soft, hard] = line.slice('Max open files'.length).trim().split(/\s+/).map((v) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v)));
  return [soft ?? Number.NaN, hard ?? Number.NaN];
}

/**
 * The streams need descriptors in three processes: the gateway two per stream (client and
 * provider sockets), the client and the provider one each. Node raises its soft limit to the hard
 * one at start-up, so the hard limit the bench inherits is what every child gets; below what N
 * streams need the run would measure EMFILE, so it stops and says what to raise.
 */
export function assertFileLimitFor(streams: number): void {
  const [, hard] = fileLimitsOf('self');
  const needed = 2 * streams + 512;
  if (hard < needed) {
    throw new Error(`${streams} streams need ${needed} file descriptors in the gateway; the hard limit here is ${hard}: raise it (ulimit -Hn ${needed}, or LimitNOFILE= for a systemd unit) or pass a smaller --streams`);
  }
}

/**
 * Streams opened per second. Opening costs a gateway a whole request (EG's pipeline: about
 * 0.2 ms of CPU here) on top of the events of the streams already open; at 2,000 a second our
 * gateway and EG's both reached a full core during the ramp and overflowed their accept queue.
 */
const OPEN_PER_S = 1000;

export async function measureStreams(spec: StreamsSpec): Promise<Streams> {
  const { pid } = spec;
  const rssBefore = pid === undefined ? Number.NaN : rssOf(pid);
  const rampS = spec.streams / OPEN_PER_S;
  const child = spawnJsonChild(path.join(__dirname, 'stream-client-process.js'), [], {
    STREAM_SPEC: JSON.stringify({
      url: spec.url, streams: spec.streams, openPerSecond: OPEN_PER_S, headers: spec.headers,
      openTimeoutMs: (rampS + 4) * 1000, deadlineMs: (rampS + spec.seconds + 30) * 1000,
    }),
  });
  const clientPid = child.child.pid as number;
  const cpuAt = (p: number | undefined): number => (p === undefined ? Number.NaN : cpuMicrosOf(p));
  const startedAt = Date.now();
  const gatewayCpuBefore = cpuAt(pid);
  let clientCpu = 0;
  let rssPeak = rssBefore;
  let fdPeak = 0;
  const sampler = setInterval(() => {
    clientCpu = Math.max(clientCpu, cpuMicrosOf(clientPid) || 0);
    if (pid === undefined) return;
    rssPeak = Math.max(rssPeak, rssOf(pid));
    fdPeak = Math.max(fdPeak, fdCountOf(pid));
  }, 200);
  try {
    const result = (await child.next<{ streams: Streams }>('streams', (rampS + spec.seconds + 60) * 1000)).streams;
    const elapsedMicros = (Date.now() - startedAt) * 1000;
    const share = (micros: number): number => Math.round((micros / elapsedMicros) * 100) / 100;
    const shares = { clientCpu: share(clientCpu), gatewayCpu: share(cpuAt(pid) - gatewayCpuBefore) };
    if (pid === undefined) return { ...result, clientCpu: shares.clientCpu };
    return { ...result, ...shares, rssBefore, rssPeak, fdPeak, bytesPerStream: Math.round((rssPeak - rssBefore) / Math.max(1, result.opened)) };
  } finally {
    clearInterval(sampler);
    await child.stop();
  }
}
