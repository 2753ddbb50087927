// plugin/stores/memory-store.ts
// In-process buckets: the embedded default when no Redis is configured. One store per process,
// so a config reload refills nobody. Memory is bounded twice: a sweep drops buckets that have
// refilled (a missing bucket reads as full, so dropping them changes no answer), and a cap on the
// number of buckets evicts the least recently used when a flood of new clients arrives.

import { performance } from 'node:perf_hooks';
import type { BucketLimits, BucketStore, TakeResult } from './store';
import { takeTokens, type BucketState } from './token-bucket';

const SWEEP_INTERVAL_MS = 30_000;
const MAX_MEMORY_BUCKETS = 1_000_000;

interface MemoryBucket extends BucketState {
  /** When this bucket will be full again, µs: after that it can be dropped. */
  fullAtUs: number;
}

/** Monotonic µs: wall-clock steps (NTP, an operator's `date`) cannot refill or drain a bucket. */
const nowUs = (): number => Math.floor(performance.now() * 1000);

class MemoryStore implements BucketStore {
  readonly kind = 'memory';
  private readonly buckets = new Map<string, MemoryBucket>();

  constructor(private readonly maxBuckets = MAX_MEMORY_BUCKETS) {
    // The process's store lives as long as the process; the sweep must not keep it alive.
    setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  take(key: string, limits: BucketLimits, cost: number): Promise<TakeResult> {
    const now = nowUs();
    const existing = this.buckets.get(key);
    const decision = takeTokens(existing, now, limits, cost);
    if (decision.allowed) {
      // Re-inserting moves the bucket to the end of the Map's order: the front is least recent.
      if (existing !== undefined) this.buckets.delete(key);
      else if (this.buckets.size >= this.maxBuckets) this.evictOldest();
      this.buckets.set(key, { ...decision.state, fullAtUs: now + decision.fullInUs });
    }
    return Promise.resolve({
      allowed: decision.allowed,
      remaining: decision.state.tokens,
      retryAfterMs: decision.retryAfterUs / 1000,
      fullInMs: decision.fullInUs / 1000,
    });
  }


  private sweep(): void {
    const now = nowUs();
    for (const [key, bucket] of this.buckets) if (bucket.fullAtUs <= now) this.buckets.delete(key);
  }

  private evictOldest(): void {
    const oldest = this.buckets.keys().next();
    if (!oldest.done) this.buckets.delete(oldest.value);
  }
}

let processStore: MemoryStore | undefined;

/** The process's memory store, created on first use and kept across config reloads. */
export function memoryStore(): BucketStore {
  processStore ??= new MemoryStore();
  return processStore;
}

