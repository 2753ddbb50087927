// plugin/policies/token-bucket-rate-limit/client-bucket.ts
// Whose buckets a request is counted against, and their limits: the key id key-auth recorded
// (with the key's own plan, if its entry has one), else the client's address, as `rateLimitBy`
// says; settled once per config load except the per-request lookup.

import type { IncomingMessage } from 'node:http';
import { identityOf, type KeyIdentity } from '../../identity';
import type { BucketLimits } from '../../stores/store';
import { clientIpResolver } from './client-ip';
import { quota, type Quota } from './headers';
import type { TokenBucketRateLimitOptions } from './options';

export interface ClientBuckets {
  /** The client's bucket name in the store (its token bucket is named after it). */
  readonly bucket: string;
  readonly requests: Quota;
  /** The LLM-token quota, when the step limits tokens. */
  readonly tokens: Quota | undefined;
  readonly identity: KeyIdentity | undefined;
}

/** The token quota's name in the RateLimit fields: `tokens` beside the `default` quota. */
const tokenQuotaName = (policyName: string): string => (policyName === 'default' ? 'tokens' : `${policyName}.tokens`);

/** Builds the per-request lookup; undefined from it: `rateLimitBy: key` and the request has no key. */
export function clientBuckets(options: TokenBucketRateLimitOptions): (req: IncomingMessage & { user?: unknown }) => ClientBuckets | undefined {
  const resolveIp = clientIpResolver(options);
  const byKey = options.rateLimitBy !== 'ip';
  const byIp = options.rateLimitBy !== 'key';
  const prefix = `${options.policyName}\u0000`;
  const tokenName = tokenQuotaName(options.policyName);
  const defaults = {
    requests: quota(options.policyName, { capacity: options.capacity, refillRate: options.refillRate }),
    tokens: options.llmTokens === undefined ? undefined : quota(tokenName, { capacity: options.llmTokens.capacity, refillRate: options.llmTokens.refillRate }),
  };
  const planQuota = (name: string, limits: BucketLimits | undefined, fallback: Quota | undefined): Quota | undefined =>
    (limits === undefined || fallback === undefined ? fallback : quota(name, limits));

  return (req) => {
    const identity = byKey ? identityOf(req) : undefined;
    if (identity === undefined && !byIp) return undefined;
    const plan = identity?.rateLimit;
    return {
      bucket: prefix + (identity !== undefined ? `k:${identity.id}` : `i:${resolveIp(req)}`),
      requests: plan === undefined ? defaults.requests : quota(options.policyName, plan),
      tokens: plan === undefined ? defaults.tokens : planQuota(tokenName, plan.llmTokens, defaults.tokens),
      identity,
    };
  };
}
