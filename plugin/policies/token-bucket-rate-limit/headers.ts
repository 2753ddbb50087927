// plugin/policies/token-bucket-rate-limit/headers.ts
// The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10) and Retry-After. They
// name the quota, never the client: nothing of a key reaches them.

import type { ServerResponse } from 'node:http';
import type { BucketLimits, TakeResult } from '../../stores/store';

/** `"name";q=<capacity>;w=<seconds to refill an empty bucket>` */
export function policyField(policyName: string, limits: BucketLimits): string {
  return `"${policyName}";q=${Math.floor(limits.capacity)};w=${Math.ceil(limits.capacity / limits.refillRate)}`;
}

/** `"name";r=<whole tokens left>;t=<seconds until the bucket is full again>` */
function remainingField(policyName: string, result: TakeResult): string {
  return `"${policyName}";r=${Math.max(0, Math.floor(result.remaining))};t=${Math.ceil(result.fullInMs / 1000)}`;
}

export function setRateLimitFields(res: ServerResponse, policyHeader: string, policyName: string, result: TakeResult): void {
  res.setHeader('ratelimit-policy', policyHeader);
  res.setHeader('ratelimit', remainingField(policyName, result));
}

/** Whole seconds, rounded up: a client that waits this long finds the tokens there. */
export function retryAfterSeconds(result: TakeResult): string {
  return String(Math.max(1, Math.ceil(result.retryAfterMs / 1000)));
}
