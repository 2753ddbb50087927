// plugin/policies/token-bucket-rate-limit/headers.ts
// What a limited response tells its client, in the two forms clients read: the IETF RateLimit
// fields (draft-ietf-httpapi-ratelimit-headers-10), one entry per quota, and OpenAI's
// `x-ratelimit-*` names (the openai SDKs and tools read them; durations in OpenAI's form: `1s`,
// `6m0s`, `120ms`). A 429 adds Retry-After and `retry-after-ms`, which the SDKs wait exactly.
// They name the quota, never the client: nothing of a key reaches them.

import type { ServerResponse } from 'node:http';
import type { BucketLimits, BucketState } from '../../stores/store';

/** A quota as the fields name it, with its `RateLimit-Policy` entry built once. */
export interface Quota {
  readonly name: string;
  readonly limits: BucketLimits;
  /** `"name";q=<capacity>;w=<seconds to refill an empty bucket>` */
  readonly policy: string;
}

export function quota(name: string, limits: BucketLimits): Quota {
  return { name, limits, policy: `"${name}";q=${Math.floor(limits.capacity)};w=${Math.ceil(limits.capacity / limits.refillRate)}` };
}

/** Go-style durations, as OpenAI writes them: `950ms`, `1s`, `1.5s`, `6m0s`, `1h0m0s`. */
function openAiDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  let seconds = Math.ceil(ms) / 1000;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${Number(seconds.toFixed(3))}s`;
}

const whole = (tokens: number): number => Math.max(0, Math.floor(tokens));

/** `"name";r=<whole tokens left>;t=<seconds until the bucket is full again>` */
const remainingField = (q: Quota, state: BucketState): string => `"${q.name}";r=${whole(state.remaining)};t=${Math.ceil(state.fullInMs / 1000)}`;

function setOpenAi(res: ServerResponse, kind: 'requests' | 'tokens', q: Quota, state: BucketState): void {
  res.setHeader(`x-ratelimit-limit-${kind}`, String(Math.floor(q.limits.capacity)));
  res.setHeader(`x-ratelimit-remaining-${kind}`, String(whole(state.remaining)));
  res.setHeader(`x-ratelimit-reset-${kind}`, openAiDuration(state.fullInMs));
}

/** Both forms, for the request quota and (with LLM-token limits) the token quota. */
export function setRateLimitHeaders(res: ServerResponse, requests: Quota, requestState: BucketState, tokens?: Quota, tokenState?: BucketState): void {
  setOpenAi(res, 'requests', requests, requestState);
  if (tokens === undefined || tokenState === undefined) {
    res.setHeader('ratelimit-policy', requests.policy);
    res.setHeader('ratelimit', remainingField(requests, requestState));
    return;
  }
  setOpenAi(res, 'tokens', tokens, tokenState);
  res.setHeader('ratelimit-policy', `${requests.policy}, ${tokens.policy}`);
  res.setHeader('ratelimit', `${remainingField(requests, requestState)}, ${remainingField(tokens, tokenState)}`);
}

/** Retry-After in whole seconds, rounded up (a client that waits this long finds its tokens), and in ms. */
export function retryHeaders(retryAfterMs: number): Record<string, string> {
  return { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))), 'retry-after-ms': String(Math.max(1, Math.ceil(retryAfterMs))) };
}
