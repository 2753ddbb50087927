// test/reliability/support.ts
// Shared pieces of the reliability suite: a closed-loop load that keeps every answer (status, body,
// timing), the gateway's fd count and RSS from /proc, its live heap, and the pipeline under test.

import path from 'node:path';
import { fdCountOf, rssOf } from '../../testkit/proc';
import { proxyStep, step, type Gateway, type PipelineStep } from '../../testkit/gateway';
import { sleep } from '../../testkit/wait';
import { runLoad, type Shot } from '../helpers/load';

export { fdCountOf, rssOf };

/** Environment that preloads test/fixtures/live-heap into a gateway, for liveHeapOf. */
export const LIVE_HEAP_ENV = { NODE_OPTIONS: `--require ${path.join(__dirname, '..', 'fixtures', 'live-heap.js')}` };

/** A gateway's heap after a full collection (it must run with LIVE_HEAP_ENV). */
export async function liveHeapOf(gateway: Gateway): Promise<number> {
  const reported = (): string[] => gateway.logs.split('live-heap ');
  const seen = reported().length;
  process.kill(gateway.child.pid as number, 'SIGUSR2');
  for (let waitedMs = 0; waitedMs < 10_000; waitedMs += 50) {
    const reports = reported();
    if (reports.length > seen) return Number.parseInt(reports[reports.length - 1] as string, 10);
    await sleep(50);
  }
  throw new Error('the gateway did not report its live heap');
}

export const toMiB = (bytes: number): number => Math.round((bytes / 1048576) * 100) / 100;

export const INTERNAL_ERROR = 'Internal server error occurred while processing your request';
export const LOAD_KEY = 'reliability-load-key-000000000000000000000000';

/** One answer of the load, with its body kept: the suite checks every error body. */
export type Answer = Shot;

export interface HammerOptions {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly connections: number;
  readonly until: Promise<unknown>;
  readonly body?: string;
}

/** Closed-loop load on one gateway URL with one set of headers, capped at 100,000 requests. */
export function hammer(options: HammerOptions): Promise<Answer[]> {
  return runLoad({
    targets: [options.url], path: '', identities: ['load'], headersFor: () => options.headers,
    connections: options.connections, until: options.until, maxRequests: 100_000, ...(options.body === undefined ? {} : { body: options.body }),
  });
}

/** The detail of a JSON error body, or undefined when the body is not `{"detail": string}`. */
export function detailOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { detail?: unknown }).detail === 'string') return (parsed as { detail: string }).detail;
  } catch {
    return undefined;
  }
  return undefined;
}

export interface KeyEntry { id: string; key: string; rateLimit?: { capacity: number; refillRate: number } }

/** detail-error-formatter, key-auth, token-bucket-rate-limit, proxy: the shipped pipeline's shape. */
export function fullPipeline(keys: KeyEntry[], limit: Record<string, unknown>, proxy: Record<string, unknown> = {}): PipelineStep[] {
  return [
    step('detail-error-formatter'),
    step('key-auth', { keys }),
    step('token-bucket-rate-limit', limit),
    proxyStep(proxy),
  ];
}

export const loadKey = (): KeyEntry => ({ id: 'load', key: LOAD_KEY, rateLimit: { capacity: 1_000_000_000, refillRate: 1_000_000_000 } });

export function tally(answers: readonly Answer[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) counts[String(a.status)] = (counts[String(a.status)] ?? 0) + 1;
  return counts;
}

/** Reliability figures of this run, collected per file and printed by the last hook for the README. */
export const figures: Record<string, unknown> = {};
export function record(name: string, value: unknown): void {
  figures[name] = value;
  process.stdout.write(`      figures ${name}: ${JSON.stringify(value)}\n`);
}
