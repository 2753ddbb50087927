// plugin/stores/store.ts
// The contract both bucket stores keep: one atomic decision over a client's request bucket and,
// when LLM tokens are limited, its token bucket together (both are taken or neither), and the
// settlement that gives a token reservation back, or charges beyond it, once the usage is known.

/**
 * The largest capacity a bucket may have: the Redis script answers tokens × 10^6 as a 64-bit
 * integer, exact up to 2^53 in JavaScript, so 10^12 tokens keep a millionth of a token.
 */
export const MAX_BUCKET_CAPACITY = 1e12;

export interface BucketLimits {
  readonly capacity: number;
  /** Tokens added per second. */
  readonly refillRate: number;
}

/** One bucket of a decision: its limits, and what this request takes from it. */
export interface BucketCharge {
  readonly limits: BucketLimits;
  readonly cost: number;
}

export interface BucketState {
  /** Tokens left after the decision (fractional; a token bucket in debt is negative). */
  readonly remaining: number;
  /** Time until this bucket alone would hold the cost, in ms (0 when it does). */
  readonly retryAfterMs: number;
  /** Time until the bucket is full again, in ms. */
  readonly fullInMs: number;
}

export interface Decision {
  /** True when every bucket held its cost and all were taken; a refusal takes nothing. */
  readonly allowed: boolean;
  /** When refused: the wait after which every bucket would admit the request, in ms. */
  readonly retryAfterMs: number;
  readonly requests: BucketState;
  /** The token bucket's state, when the decision had one. */
  readonly tokens: BucketState | undefined;
}

export interface BucketStore {
  /** `memory` or `redis`: the metric label and the log name. */
  readonly kind: 'memory' | 'redis';
  /**
   * Decides on the request bucket of `client` (and its LLM-token bucket, when `tokens` is given)
   * atomically. Rejects only when the store fails.
   */
  take(client: string, requests: BucketCharge, tokens?: BucketCharge): Promise<Decision>;
  /**
   * Adds `amount` to the LLM-token bucket of `client` after its refill, capped at its capacity; a
   * negative amount (usage beyond the reservation) may take it below zero, a debt later requests
   * wait out.
   */
  settle(client: string, tokens: BucketLimits, amount: number): Promise<void>;
}
