// plugin/policies/token-bucket-rate-limit/llm-reservation.ts
// The LLM-token side of a decision. Before the call: the request's JSON is read, its cost
// estimated, and the reservation (at most the bucket's capacity, so a request can always pass
// once the bucket is full) taken with the request bucket in one store call. A stream that does
// not ask for its usage is made to, for the gateway's own sake (the usage chunk is kept from that
// client). After the call: the reservation is settled exactly once on what the answer showed,
// without delaying or failing the client's answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { chatBody } from '../../http/chat-body';
import { exchangeOf } from '../../http/exchange';
import { estimateTokens, type TokenEstimate } from '../../llm/estimate';
import { ReservationMeter, type Charge } from '../../llm/usage-meter';
import { logger } from '../../logger';
import { llmTokenReservationRatio, llmTokens, llmTokenSettlements } from '../../metrics';
import type { BucketStore } from '../../stores/store';
import { storeErrorKind } from '../../stores/redis-store';
import type { Quota } from './headers';
import type { LlmTokenOptions, TokenCount } from './options';

export interface Reservation {
  readonly estimate: TokenEstimate;
  /** Tokens taken from the bucket for this request. */
  readonly amount: number;
  /** The gateway asked for the stream's usage; the client did not. */
  readonly dropUsageChunk: boolean;
}

const counted = (count: TokenCount, input: number, output: number, total: number): number =>
  (count === 'input' ? input : count === 'output' ? output : total);

/** Asks a stream for its usage unless the client did; true when the gateway asked on its own. */
function askForStreamUsage(json: Record<string, unknown>): boolean {
  if (json['stream'] !== true) return false;
  const streamOptions = json['stream_options'];
  const options = typeof streamOptions === 'object' && streamOptions !== null ? streamOptions as Record<string, unknown> : {};
  if (options['include_usage'] === true) return false;
  json['stream_options'] = { ...options, include_usage: true };
  return true;
}

/** Reads the body and prices the request; undefined when the body was refused (answered 4xx). */
export async function prepareReservation(req: IncomingMessage, res: ServerResponse, llm: LlmTokenOptions, tokens: Quota, bodyLimit: number): Promise<Reservation | undefined> {
  const body = await chatBody(req, res, bodyLimit);
  if (body === undefined) return undefined;
  const estimate = estimateTokens(body.json, llm.defaultMaxTokens);
  const dropUsageChunk = askForStreamUsage(body.json);
  if (dropUsageChunk) body.changed = true;
  const amount = Math.min(counted(llm.count, estimate.input, estimate.output, estimate.input + estimate.output), tokens.limits.capacity);
  return { estimate, amount, dropUsageChunk };
}

interface SettlementContext {
  readonly store: BucketStore;
  readonly bucket: string;
  readonly tokens: Quota;
  readonly count: TokenCount;
  readonly pipeline: string;
  readonly keyId: string;
}

function settle(context: SettlementContext, reservation: Reservation, charge: Charge): void {
  const charged = counted(context.count, charge.input, charge.output, charge.total);
  llmTokens.inc({ pipeline: context.pipeline, kind: 'input', key_id: context.keyId }, charge.input);
  llmTokens.inc({ pipeline: context.pipeline, kind: 'output', key_id: context.keyId }, charge.output);
  if (reservation.amount > 0) llmTokenReservationRatio.observe(charged / reservation.amount);
  const refund = reservation.amount - charged;
  if (refund === 0) {
    llmTokenSettlements.inc({ outcome: charge.outcome });
    return;
  }
  context.store.settle(context.bucket, context.tokens.limits, refund).then(
    () => llmTokenSettlements.inc({ outcome: charge.outcome }),
    (error: unknown) => {
      // The reservation stands: the client was charged what it reserved, no more, no less.
      llmTokenSettlements.inc({ outcome: 'store_error' });
      logger.warn({ store: context.store.kind, kind: storeErrorKind(error), err: error instanceof Error ? error.message : String(error), refund }, 'llm tokens: settlement failed; the reservation stands');
    },
  );
}

/**
 * Hands the reservation to the exchange: the proxy reports the answer to it, and a request that
 * never reached the provider (a later step refused it, the client left early) is refunded when
 * its response closes.
 */
export function startSettlement(res: ServerResponse, context: SettlementContext, reservation: Reservation): void {
  const meter = new ReservationMeter(reservation.estimate, reservation.dropUsageChunk, (charge) => settle(context, reservation, charge));
  exchangeOf(res).usage = meter;
  // After the proxy's own 'close' handling (a client that left mid-answer is charged as such).
  res.once('close', () => process.nextTick(() => meter.end('failed')));
}
