// test/helpers/load.ts
// Closed-loop load for limit tests: many concurrent connections spread over gateways and client
// identities, every answer recorded with when it was sent and when it came back.

import { CHAT_BODY } from './http';
import { sleep } from '../../testkit/wait';

export interface Shot {
  readonly identity: string;
  readonly target: string;
  readonly sentAt: number;
  readonly doneAt: number;
  /** HTTP status; 0 when the request failed without an answer. */
  readonly status: number;
  readonly contentType: string;
  /** The answer's body, or the error message when there was no answer. */
  readonly body: string;
}

export interface LoadOptions {
  /** Gateway base URLs; connections are spread over them. */
  readonly targets: readonly string[];
  /** Client identities (e.g. API keys); each gets connections on every target. */
  readonly identities: readonly string[];
  readonly headersFor: (identity: string) => Record<string, string>;
  readonly connections: number;
  /** Runs until `stop()` resolves (or rejects); no new request is sent after that. */
  readonly until: Promise<unknown>;
  readonly path?: string;
  readonly body?: string;
  /** Longest wait per request; one that takes longer is recorded with status 0. */
  readonly requestTimeoutMs?: number;
  /** Upper bound on requests over all connections, whatever `until` does. */
  readonly maxRequests?: number;
}

/**
 * Connection i talks to target i mod T as identity floor(i / T) mod I, so that every identity is
 * decided on every gateway at once (the point of a shared limit).
 */
export async function runLoad(options: LoadOptions): Promise<Shot[]> {
  const shots: Shot[] = [];
  let stopped = false;
  const stopping = options.until.then(() => { stopped = true; }, () => { stopped = true; });
  const body = options.body ?? CHAT_BODY;
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  const worker = async (index: number): Promise<void> => {
    const target = options.targets[index % options.targets.length] as string;
    const identity = options.identities[Math.floor(index / options.targets.length) % options.identities.length] as string;
    const url = `${target}${options.path ?? '/v1/chat'}`;
    const headers = { 'content-type': 'application/json', ...options.headersFor(identity) };
    while (!stopped && sent < maxRequests) {
      sent += 1;
      const sentAt = Date.now();
      try {
        const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(options.requestTimeoutMs ?? 10_000) });
        const answer = await response.text();
        shots.push({ identity, target, sentAt, doneAt: Date.now(), status: response.status, contentType: response.headers.get('content-type') ?? '', body: answer });
      } catch (error) {
        shots.push({ identity, target, sentAt, doneAt: Date.now(), status: 0, contentType: '', body: error instanceof Error ? error.message : String(error) });
        // A refused connection fails at once: do not spin on it.
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, (_, i) => worker(i)));
  await stopping;
  return shots;
}

export interface IdentityTally {
  readonly admitted: number;
  readonly limited: number;
  readonly failed: number;
  readonly other: number;
  /** From the first request sent to the last answer received, in ms: the widest decision window. */
  readonly windowMs: number;
}

export function tallyByIdentity(shots: readonly Shot[]): Map<string, IdentityTally> {
  const byIdentity = new Map<string, Shot[]>();
  for (const shot of shots) {
    const list = byIdentity.get(shot.identity) ?? [];
    list.push(shot);
    byIdentity.set(shot.identity, list);
  }
  const tallies = new Map<string, IdentityTally>();
  for (const [identity, list] of byIdentity) {
    tallies.set(identity, {
      admitted: list.filter((s) => s.status === 200).length,
      limited: list.filter((s) => s.status === 429).length,
      failed: list.filter((s) => s.status === 500 || s.status === 0).length,
      other: list.filter((s) => ![200, 429, 500, 0].includes(s.status)).length,
      windowMs: Math.max(...list.map((s) => s.doneAt)) - Math.min(...list.map((s) => s.sentAt)),
    });
  }
  return tallies;
}

/** Most a token bucket that starts full may admit over `windowMs`: C + floor(r·T). */
export function tokenBucketBound(capacity: number, refillPerSecond: number, windowMs: number): number {
  return capacity + Math.floor((refillPerSecond * windowMs) / 1000);
}

/** The p-th percentile (0–100, nearest rank) of the shots' latencies (doneAt − sentAt), ms. */
export function latencyPercentile(shots: readonly Shot[], p: number): number {
  const sorted = shots.map((s) => s.doneAt - s.sentAt).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
