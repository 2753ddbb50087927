// plugin/policies/token-bucket-rate-limit/options.ts
// Types and defaults of the rate limiter's action parameters; schema.ts takes its defaults from here.

import type { TrustProxy } from './client-ip';

type RateLimitBy = 'key-or-ip' | 'key' | 'ip';
type FailureMode = 'closed' | 'open';
export type TokenCount = 'total' | 'input' | 'output';

/** A bucket of LLM tokens beside the request bucket: decided together, settled on the usage. */
export interface LlmTokenOptions {
  /** LLM tokens a client may spend at once. Required. */
  readonly capacity: number;
  /** LLM tokens added back per second. Required. */
  readonly refillRate: number;
  /** Which usage is charged: `total` (default), `input` (prompt) or `output` (completion). */
  readonly count: TokenCount;
  /** Output estimate of a request that names no `max_tokens`/`max_completion_tokens`. Default 1024. */
  readonly defaultMaxTokens: number;
}

export const LLM_TOKEN_DEFAULTS = Object.freeze({ count: 'total', defaultMaxTokens: 1024 } as const);

export interface TokenBucketRateLimitOptions {
  /** Bucket size: the burst a client may send at once. Required. */
  readonly capacity: number;
  /** Tokens added back per second; may be fractional (0.5 = one request every 2 s). Required. */
  readonly refillRate: number;
  /** Whose bucket: the key id key-auth recorded, else the client IP (`key-or-ip`, default); or only `key`, or only `ip`. */
  readonly rateLimitBy: RateLimitBy;
  /** Tokens one request takes. Default 1. */
  readonly cost: number;
  /** When the store fails: `closed` (default) answers 500 as the contract says; `open` lets the request through and counts it. */
  readonly failureMode: FailureMode;
  /** Send the IETF RateLimit fields and OpenAI's x-ratelimit-* on every response. Default true. */
  readonly headers: boolean;
  /** Name of the quota in the RateLimit fields, and the namespace of its buckets. Default `default`. */
  readonly policyName: string;
  /** Proxies in front of the gateway: a hop count, or a list of CIDRs. Default 0: the socket address is the client. */
  readonly trustProxy: TrustProxy;
  /** Prefix length that groups IPv6 clients into one bucket. Default 64. */
  readonly ipv6Subnet: number;
  /** LLM-token limits; off unless given. */
  readonly llmTokens: LlmTokenOptions | undefined;
}

export const DEFAULTS: Omit<TokenBucketRateLimitOptions, 'capacity' | 'refillRate' | 'llmTokens'> = Object.freeze({
  rateLimitBy: 'key-or-ip',
  cost: 1,
  failureMode: 'closed',
  headers: true,
  policyName: 'default',
  trustProxy: 0,
  ipv6Subnet: 64,
});
