// plugin/stores/store.ts
// The contract both bucket stores keep: one atomic take per decision.

export interface TakeResult {
  /** True when the bucket held `cost` tokens and they were taken. A refusal takes nothing. */
  readonly allowed: boolean;
  /** Tokens left after the decision (fractional). */
  readonly remaining: number;
  /** When refused: time until `cost` tokens are there, in ms (0 when allowed). */
  readonly retryAfterMs: number;
  /** Time until the bucket is full again, in ms. */
  readonly fullInMs: number;
}

export interface BucketLimits {
  readonly capacity: number;
  /** Tokens added per second. */
  readonly refillRate: number;
}

export interface BucketStore {
  /** `memory` or `redis`: the metric label and the log name. */
  readonly kind: 'memory' | 'redis';
  /** Takes `cost` tokens from the bucket `key` if it holds them. Rejects only when the store fails. */
  take(key: string, limits: BucketLimits, cost: number): Promise<TakeResult>;
}
