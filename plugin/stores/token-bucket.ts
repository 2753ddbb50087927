// plugin/stores/token-bucket.ts
// The token-bucket arithmetic, shared by the memory store and mirrored line for line by
// token-bucket.lua, so both stores give the same answers. Time is in integer microseconds.

import type { BucketLimits } from './store';

export interface BucketState {
  tokens: number;
  /** When `tokens` was last brought up to date, µs. Never moves backwards. */
  timeUs: number;
}

interface Decision {
  readonly allowed: boolean;
  readonly state: BucketState;
  readonly retryAfterUs: number;
  readonly fullInUs: number;
}

/**
 * Refills `state` up to `nowUs`, then takes `cost` if the bucket holds it. A missing bucket is a
 * full one. A clock that reads earlier than the bucket's time refills nothing and leaves the
 * bucket's time alone, so a step back of the clock can never hand out tokens twice.
 */
export function takeTokens(state: BucketState | undefined, nowUs: number, limits: BucketLimits, cost: number): Decision {
  let tokens = limits.capacity;
  let timeUs = nowUs;
  if (state !== undefined) {
    tokens = Math.min(state.tokens, limits.capacity);
    timeUs = state.timeUs;
    const elapsedUs = nowUs - state.timeUs;
    if (elapsedUs > 0) {
      tokens = Math.min(limits.capacity, tokens + (elapsedUs * limits.refillRate) / 1e6);
      timeUs = nowUs;
    }
  }
  const allowed = cost <= tokens;
  if (allowed) tokens -= cost;
  return {
    allowed,
    state: { tokens, timeUs },
    retryAfterUs: allowed ? 0 : Math.ceil(((cost - tokens) * 1e6) / limits.refillRate),
    fullInUs: Math.ceil(((limits.capacity - tokens) * 1e6) / limits.refillRate),
  };
}
