// plugin/policies/token-bucket-rate-limit/options.ts
// Types and defaults of the rate limiter's action parameters; schema.ts takes its defaults from here.

import type { TrustProxy } from './client-ip';

type RateLimitBy = 'key-or-ip' | 'key' | 'ip';
type FailureMode = 'closed' | 'open';

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
  /** Send the IETF RateLimit-Policy / RateLimit fields on every response. Default true. */
  readonly headers: boolean;
  /** Name of the quota in the RateLimit fields, and the namespace of its buckets. Default `default`. */
  readonly policyName: string;
  /** Proxies in front of the gateway: a hop count, or a list of CIDRs. Default 0: the socket address is the client. */
  readonly trustProxy: TrustProxy;
  /** Prefix length that groups IPv6 clients into one bucket. Default 64. */
  readonly ipv6Subnet: number;
}

export const DEFAULTS: Omit<TokenBucketRateLimitOptions, 'capacity' | 'refillRate'> = Object.freeze({
  rateLimitBy: 'key-or-ip',
  cost: 1,
  failureMode: 'closed',
  headers: true,
  policyName: 'default',
  trustProxy: 0,
  ipv6Subnet: 64,
});
