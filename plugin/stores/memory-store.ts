// plugin/stores/memory-store.ts
// In-process buckets: the embedded default when no Redis is configured. One store per process,
// so a config reload refills nobody. Memory is bounded twice: a sweep drops buckets that have
// refilled (a missing bucket reads as full, so dropping them changes no answer), and a cap on the
// number of buckets evicts the least recently used when a flood of new clients arrives.

import { performance } from 'node:perf_hooks';
import type { BucketCharge, BucketLimits, BucketState, BucketStore, Decision } from './store';
import { fullInUs, refilled, waitUs, type StoredBucket } from './token-bucket';

const SWEEP_INTERVAL_MS = 30_000;
const MAX_MEMORY_BUCKETS = 1_000_000;

interface MemoryBucket extends StoredBucket {
  /** When this bucket will be full again, µs: after that it can be dropped. */
  fullAtUs: number;
}

/** Monotonic µs: wall-clock steps (NTP, an operator's `date`) cannot refill or drain a bucket. */
const nowUs = (): number => Math.floor(performance.now() * 1000);

/** The token bucket of a client lives beside its request bucket. */
const tokenKey = (client: string): string => `${client}\u0000tokens`;

const stateOf = (bucket: StoredBucket, take: BucketCharge): BucketState => ({
  remaining: bucket.tokens, retryAfterMs: waitUs(bucket, take.limits, take.cost) / 1000, fullInMs: fullInUs(bucket, take.limits) / 1000,
});

class MemoryStore implements BucketStore {
  readonly kind = 'memory';
  private readonly buckets = new Map<string, MemoryBucket>();

  constructor(private readonly maxBuckets = MAX_MEMORY_BUCKETS) {
    // The process's store lives as long as the process; the sweep must not keep it alive.
    setInterval(() => this.sweep(), SWEEP_INTERVAL_MS).unref();
  }

  take(client: string, requests: BucketCharge, tokens?: BucketCharge): Promise<Decision> {
    const now = nowUs();
    const takes: Array<[string, BucketCharge]> = tokens === undefined ? [[client, requests]] : [[client, requests], [tokenKey(client), tokens]];
    const buckets = takes.map(([key, take]) => refilled(this.buckets.get(key), now, take.limits));
    const waits = buckets.map((bucket, i) => waitUs(bucket, (takes[i] as [string, BucketCharge])[1].limits, (takes[i] as [string, BucketCharge])[1].cost));
    const allowed = waits.every((wait) => wait === 0);
    if (allowed) {
      buckets.forEach((bucket, i) => {
        const [key, take] = takes[i] as [string, BucketCharge];
        bucket.tokens -= take.cost;
        this.store(key, bucket, now + fullInUs(bucket, take.limits));
      });
    }
    return Promise.resolve({
      allowed,
      retryAfterMs: allowed ? 0 : Math.max(...waits) / 1000,
      requests: stateOf(buckets[0] as StoredBucket, requests),
      tokens: tokens === undefined ? undefined : stateOf(buckets[1] as StoredBucket, tokens),
    });
  }

  settle(client: string, limits: BucketLimits, amount: number): Promise<void> {
    const now = nowUs();
    const key = tokenKey(client);
    const bucket = refilled(this.buckets.get(key), now, limits);
    bucket.tokens = Math.min(limits.capacity, bucket.tokens + amount);
    this.store(key, bucket, now + fullInUs(bucket, limits));
    return Promise.resolve();
  }

  private store(key: string, bucket: StoredBucket, fullAtUs: number): void {
    // Re-inserting moves the bucket to the end of the Map's order: the front is least recent.
    if (this.buckets.has(key)) this.buckets.delete(key);
    else if (this.buckets.size >= this.maxBuckets) this.evictOldest();
    this.buckets.set(key, { ...bucket, fullAtUs });
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
