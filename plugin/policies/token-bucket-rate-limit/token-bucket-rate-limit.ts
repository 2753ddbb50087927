// plugin/policies/token-bucket-rate-limit/token-bucket-rate-limit.ts
// The policy step: one store decision per request, over the client's request bucket and, with
// `llmTokens`, its LLM-token bucket together. Everything that depends only on the config (the
// store, the client lookup, the default quotas) is settled here, once per config load.

import type { NextFunction, RequestHandler, Response } from 'express';
import type { EgConfig, GatewayRequest } from '../../eg/types';
import { sendDetail } from '../../errors';
import { logger } from '../../logger';
import { MESSAGES } from '../../messages';
import { rateLimitBlocked, rateLimitDecisionSeconds, rateLimitFailOpen, rateLimitStoreErrors } from '../../metrics';
import { bucketStore } from '../../runtime';
import { storeErrorKind } from '../../stores/redis-store';
import { bodyLimitOf } from '../body-limit';
import { resolveOptions } from '../resolve-options';
import { clientBuckets, type ClientBuckets } from './client-bucket';
import { retryHeaders, setRateLimitHeaders } from './headers';
import { prepareReservation, startSettlement, type Reservation } from './llm-reservation';
import { DEFAULTS, type LlmTokenOptions, type TokenBucketRateLimitOptions } from './options';

function optionsOf(params: Readonly<Record<string, unknown>>): TokenBucketRateLimitOptions {
  const llm = params['llmTokens'] as LlmTokenOptions | undefined;
  return Object.freeze({
    ...resolveOptions(DEFAULTS, params),
    capacity: Number(params['capacity']),
    refillRate: Number(params['refillRate']),
    llmTokens: llm === undefined ? undefined : Object.freeze({ capacity: llm.capacity, refillRate: llm.refillRate, count: llm.count, defaultMaxTokens: llm.defaultMaxTokens }),
  });
}

export function tokenBucketRateLimit(params: Readonly<Record<string, unknown>>, config: EgConfig): RequestHandler {
  const options = optionsOf(params);
  const store = bucketStore();
  const lookup = clientBuckets(options);
  const gatewayConfig = config.gatewayConfig;

  function decide(res: Response, next: NextFunction, pipeline: string, client: ClientBuckets, reservation: Reservation | undefined): void {
    const startedAt = process.hrtime.bigint();
    const tokens = reservation === undefined || client.tokens === undefined ? undefined : { limits: client.tokens.limits, cost: reservation.amount };
    store.take(client.bucket, { limits: client.requests.limits, cost: options.cost }, tokens).then((decision) => {
      rateLimitDecisionSeconds.observe({ store: store.kind }, Number(process.hrtime.bigint() - startedAt) / 1e9);
      if (options.headers) setRateLimitHeaders(res, client.requests, decision.requests, client.tokens, decision.tokens);
      if (decision.allowed) {
        if (reservation !== undefined && client.tokens !== undefined && options.llmTokens !== undefined) {
          startSettlement(res, { store, bucket: client.bucket, tokens: client.tokens, count: options.llmTokens.count, pipeline, keyId: client.identity?.metricKeyId ?? '' }, reservation);
        }
        next();
        return;
      }
      rateLimitBlocked.inc({ pipeline, reason: decision.requests.retryAfterMs > 0 ? 'limit' : 'llm_tokens' });
      sendDetail(res, 429, MESSAGES.tooManyRequests, retryHeaders(decision.retryAfterMs));
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
  }

  return function tokenBucketRateLimitStep(req: GatewayRequest, res: Response, next: NextFunction) {
    const endpoint = req.egContext?.apiEndpoint?.apiEndpointName;
    const pipeline = endpoint ?? 'unknown';
    const client = lookup(req);
    if (client === undefined) {
      // `rateLimitBy: key` with key-auth before it (start-up checks that), but the key-auth step
      // was skipped by a condition: there is no key to count against, and "only the key" allows
      // no other bucket.
      sendDetail(res, 401, MESSAGES.unauthorized);
      return;
    }
    if (options.cost > client.requests.limits.capacity) {
      // Waiting cannot help this request, so it is not a 429: clients retry those.
      rateLimitBlocked.inc({ pipeline, reason: 'cost_above_capacity' });
      sendDetail(res, 403, MESSAGES.costAboveCapacity);
      return;
    }
    if (options.llmTokens === undefined || client.tokens === undefined) {
      decide(res, next, pipeline, client, undefined);
      return;
    }
    void prepareReservation(req, res, options.llmTokens, client.tokens, bodyLimitOf(gatewayConfig, endpoint)).then((reservation) => {
      if (reservation !== undefined) decide(res, next, pipeline, client, reservation);
    });
  };
}
