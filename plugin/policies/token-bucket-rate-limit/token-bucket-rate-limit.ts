// plugin/policies/token-bucket-rate-limit/token-bucket-rate-limit.ts
// The policy step: one store decision per request. Everything that depends only on the config
// (the store, the IP resolver, the default header value) is settled here, once per config load.

import type { NextFunction, RequestHandler, Response } from 'express';
import { clientIpResolver } from './client-ip';
import type { GatewayRequest } from '../../eg/types';
import { sendDetail } from '../../errors';
import { identityOf } from '../../identity';
import { logger } from '../../logger';
import { MESSAGES } from '../../messages';
import { rateLimitBlocked, rateLimitDecisionSeconds, rateLimitFailOpen, rateLimitStoreErrors } from '../../metrics';
import { resolveOptions } from '../resolve-options';
import { bucketStore } from '../../runtime';
import { storeErrorKind } from '../../stores/redis-store';
import type { BucketLimits } from '../../stores/store';
import { policyField, retryAfterSeconds, setRateLimitFields } from './headers';
import { DEFAULTS, type TokenBucketRateLimitOptions } from './options';

export function tokenBucketRateLimit(params: Readonly<Record<string, unknown>>): RequestHandler {
  const options: TokenBucketRateLimitOptions = {
    ...resolveOptions(DEFAULTS, params),
    capacity: Number(params['capacity']),
    refillRate: Number(params['refillRate']),
  };
  const store = bucketStore();
  const resolveIp = clientIpResolver(options);
  const defaultLimits: BucketLimits = Object.freeze({ capacity: options.capacity, refillRate: options.refillRate });
  const defaultPolicyHeader = policyField(options.policyName, defaultLimits);
  const bucketPrefix = `${options.policyName}\u0000`;
  const byKey = options.rateLimitBy !== 'ip';
  const byIp = options.rateLimitBy !== 'key';

  return function tokenBucketRateLimitStep(req: GatewayRequest, res: Response, next: NextFunction) {
    const pipeline = req.egContext?.apiEndpoint?.apiEndpointName ?? 'unknown';
    const identity = byKey ? identityOf(req) : undefined;
    if (identity === undefined && !byIp) {
      // `rateLimitBy: key` with key-auth before it (start-up checks that), but the key-auth step
      // was skipped by a condition: there is no key to count against, and "only the key" allows
      // no other bucket.
      sendDetail(res, 401, MESSAGES.unauthorized);
      return;
    }
    const client = identity !== undefined ? `k:${identity.id}` : `i:${resolveIp(req)}`;
    const limits = identity?.rateLimit ?? defaultLimits;
    const policyHeader = limits === defaultLimits ? defaultPolicyHeader : policyField(options.policyName, limits);

    if (options.cost > limits.capacity) {
      // Waiting cannot help this request, so it is not a 429: clients retry those.
      rateLimitBlocked.inc({ pipeline, reason: 'cost_above_capacity' });
      sendDetail(res, 403, MESSAGES.costAboveCapacity);
      return;
    }

    const startedAt = process.hrtime.bigint();
    store.take(bucketPrefix + client, limits, options.cost).then((result) => {
      rateLimitDecisionSeconds.observe({ store: store.kind }, Number(process.hrtime.bigint() - startedAt) / 1e9);
      if (options.headers) setRateLimitFields(res, policyHeader, options.policyName, result);
      if (result.allowed) {
        next();
        return;
      }
      rateLimitBlocked.inc({ pipeline, reason: 'limit' });
      sendDetail(res, 429, MESSAGES.tooManyRequests, { 'retry-after': retryAfterSeconds(result) });
    }, (error: unknown) => {
      const kind = storeErrorKind(error);
      rateLimitStoreErrors.inc({ store: store.kind, kind });
      if (options.failureMode === 'open') {
        rateLimitFailOpen.inc({ pipeline });
        next();
        return;
      }
      logger.warn({ store: store.kind, kind, err: error instanceof Error ? error.message : String(error) }, 'rate-limit store failed: request refused (failureMode closed)');
      sendDetail(res, 500, MESSAGES.internalError);
    });
  };
}
