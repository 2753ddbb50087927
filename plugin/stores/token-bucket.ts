// plugin/stores/token-bucket.ts
// The token-bucket arithmetic, used by the memory store and mirrored line for line by
// token-bucket.lua, so both stores give the same answers. Time is in integer
// microseconds.

import type { BucketLimits } from './store';

export interface StoredBucket {
  tokens: number;
  /** When `tokens` was last brought up to date, µs. Never moves backwards. */
  timeUs: number;
}

/**
 * `state` refilled up to `nowUs`. A missing bucket is a full one. A clock that reads earlier than
 * the bucket's time refills nothing and leaves the bucket's time alone, so a step back of the
 * clock can never hand out tokens twice.
 */
export function refilled(state: StoredBucket | undefined, nowUs: number, limits: BucketLimits): StoredBucket {
  if (state === undefined) return { tokens: limits.capacity, timeUs: nowUs };
  const tokens = Math.min(state.tokens, limits.capacity);
  const elapsedUs = nowUs - state.timeUs;
  if (elapsedUs <= 0) return { tokens, timeUs: state.timeUs };
  return { tokens: Math.min(limits.capacity, tokens + (elapsedUs * limits.refillRate) / 1e6), timeUs: nowUs };
}

/** Time until `bucket` holds `cost`, µs (0 when it does). */
export function waitUs(bucket: StoredBucket, limits: BucketLimits, cost: number): number {
  return cost <= bucket.tokens ? 0 : Math.ceil(((cost - bucket.tokens) * 1e6) / limits.refillRate);
}

/** Time until `bucket` is full again, µs. */
export function fullInUs(bucket: StoredBucket, limits: BucketLimits): number {
  return Math.ceil(((limits.capacity - bucket.tokens) * 1e6) / limits.refillRate);
}
