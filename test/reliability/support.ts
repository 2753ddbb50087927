// test/reliability/support.ts
// Shared pieces of the reliability suite: a closed-loop load that keeps every answer (status, body,
// timing), the gateway's fd count and RSS from /proc, and the pipeline under test.

import { fdCountOf, rssOf } from '../../bench/lib/processes';
import { proxyStep, step, type PipelineStep } from '../helpers/gateway';
import { CHAT_BODY, sleep } from '../helpers/http';

export { fdCountOf, rssOf };

export const INTERNAL_ERROR = 'Internal server error occurred while processing your request';
export const LOAD_KEY = 'reliability-load-key-000000000000000000000000';

export interface Answer {
  readonly sentAt: number;
  readonly doneAt: number;
  /** 0: no answer (network error or client timeout). */
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export interface HammerOptions {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly connections: number;
  readonly until: Promise<unknown>;
  readonly body?: string;
  readonly timeoutMs?: number;
  /** Upper bound on requests, whatever `until` does. */
  readonly maxRequests?: number;
}

export async function hammer(options: HammerOptions): Promise<Answer[]> {
  const answers: Answer[] = [];
  let stopped = false;
  void options.until.then(() => { stopped = true; }, () => { stopped = true; });
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (!stopped && sent < (options.maxRequests ?? 100_000)) {
      sent += 1;
      const sentAt = Date.now();
      try {
        const response = await fetch(options.url, {
          method: 'POST', headers: { 'content-type': 'application/json', ...options.headers }, body: options.body ?? CHAT_BODY,
          signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        });
        const body = await response.text();
        answers.push({ sentAt, doneAt: Date.now(), status: response.status, contentType: response.headers.get('content-type') ?? '', body });
      } catch (error) {
        answers.push({ sentAt, doneAt: Date.now(), status: 0, contentType: '', body: error instanceof Error ? error.message : String(error) });
        await sleep(10);
      }
    }
  };
  await Promise.all(Array.from({ length: options.connections }, () => worker()));
  return answers;
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
