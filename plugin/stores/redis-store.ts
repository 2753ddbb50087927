// plugin/stores/redis-store.ts
// Buckets in Redis, shared by every gateway instance. The decisions and settlements asked for in
// one event-loop turn go to token-bucket.lua in calls of up to 16 operations, each decided in
// order and atomically (ioredis' defineCommand falls back to EVAL on NOSCRIPT, per node on a
// Cluster): Redis pays one command's overhead per call instead of one per request, and a call
// never waits for an earlier one's answer, so a decision costs one round trip and a lone one is
// sent at its turn's end. A client's buckets (requests and LLM tokens) share one key,
// `tbrl:v2:{<hash>}`: the hash keeps client identities (key ids, IPs) out of Redis key names, and
// `v2` keeps this format apart from the hashes of earlier versions (`tbrl:{<hash>}`), which a
// rolling upgrade leaves to expire. On a Cluster a batch is split by hash slot (a script's keys
// must share one) and each call sent as one command, which ioredis redirects on MOVED/ASK; it does
// not redirect a pipeline whose commands meet MOVED/ASK only in part. The timeout is the store's
// own, see reply-deadlines.ts.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import calculateSlot from 'cluster-key-slot';
import { Cluster, type Result } from 'ioredis';
import { untilFirstReady, type TopologyClient } from '../redis/connect';
import { RedisReplyTimeoutError, ReplyDeadlines } from './reply-deadlines';
import { HeldRefunds } from './held-refunds';
import { SentBatch, type PendingOperation } from './sent-batch';
import type { BucketCharge, BucketLimits, BucketState, BucketStore, Decision } from './store';
import { fullInUs, waitUs } from './token-bucket';
import { TurnBatcher } from './turn-batcher';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tbrlBatch(numberOfKeys: number, ...keysAndArgs: string[]): Result<number[], Context>;
  }
}

// No fixed number of keys: a batch has as many as its operations name.
const SCRIPT = { lua: fs.readFileSync(path.join(__dirname, 'token-bucket.lua'), 'utf8') };

/**
 * Operations per script call. Calls written one by one let Redis run the first while the gateway
 * still writes the rest, and let the gateway read the first answers while Redis runs the next:
 * with one call (or one pipeline) per turn, each side waited for the other. A long call would
 * also hold Redis, and every other client, that long. See docs/benchmarks.md for the measurement.
 */
const MAX_OPERATIONS_PER_CALL = 16;

/** The longest a refund waits to ride along with its client's next decision. */
const REFUND_HOLD_MS = 50;

/** Key names kept, so a busy client's SHA-256 is computed once, not per request. */
const KEY_NAMES_KEPT = 10_000;
const keyNames = new Map<string, string>();

/** The Redis key holding a client's buckets (see token-bucket.lua for the value). */
export function bucketKeyName(client: string): string {
  let name = keyNames.get(client);
  if (name === undefined) {
    name = `tbrl:v2:{${createHash('sha256').update(client).digest('base64url').slice(0, 32)}}`;
    // Dropping them all at once bounds the memory without an LRU's bookkeeping per request.
    if (keyNames.size >= KEY_NAMES_KEPT) keyNames.clear();
    keyNames.set(client, name);
  }
  return name;
}

/** A bucket's state from its tokens × 10^6 in the script's reply (before the take when refused). */
function stateOf(microTokens: number, charge: BucketCharge, allowed: boolean): BucketState {
  const bucket = { tokens: microTokens / 1e6, timeUs: 0 };
  return { remaining: bucket.tokens, retryAfterMs: allowed ? 0 : waitUs(bucket, charge.limits, charge.cost) / 1000, fullInMs: fullInUs(bucket, charge.limits) / 1000 };
}

/** The operations of `batch` in script calls of at most MAX_OPERATIONS_PER_CALL, by slot on a Cluster. */
function callsOf(batch: readonly PendingOperation[], bySlot: boolean): PendingOperation[][] {
  const open = new Map<number, PendingOperation[]>();
  const calls: PendingOperation[][] = [];
  for (const operation of batch) {
    const slot = bySlot ? calculateSlot(operation.key) : 0;
    let call = open.get(slot);
    if (call === undefined || call.length === MAX_OPERATIONS_PER_CALL) {
      call = [];
      open.set(slot, call);
      calls.push(call);
    }
    call.push(operation);
  }
  return calls;
}

/** KEYS (one per operation), the limits they name (once each), then every operation's ARGV. */
function scriptArgs(operations: readonly PendingOperation[]): string[] {
  const keys: string[] = [];
  const places = new Map<BucketLimits, number>();
  const limits: string[] = [];
  const ops: string[] = [];
  for (const operation of operations) {
    keys.push(operation.key);
    ops.push(operation.kind);
    operation.amounts.forEach((amount, i) => {
      const named = operation.limits[i];
      if (named !== undefined) {
        let place = places.get(named);
        if (place === undefined) {
          place = places.size + 1;
          places.set(named, place);
          limits.push(String(named.capacity), String(named.refillRate));
        }
        ops.push(String(place));
      }
      ops.push(String(amount));
    });
  }
  return [...keys, String(places.size), ...limits, ...ops];
}

export class RedisStore implements BucketStore {
  readonly kind = 'redis';
  private readonly deadlines: ReplyDeadlines;
  private readonly batcher: TurnBatcher<PendingOperation>;
  private readonly cluster: boolean;
  private readonly refunds: HeldRefunds;

  /**
   * `timeoutMs`: how long an operation waits for Redis' answer once written, and, before the
   * client's very first connection, how long it may wait for that connection.
   */
  constructor(private readonly client: TopologyClient, private readonly timeoutMs: number) {
    if (typeof (client as unknown as Record<string, unknown>)['tbrlBatch'] !== 'function') client.defineCommand('tbrlBatch', SCRIPT);
    this.deadlines = new ReplyDeadlines(timeoutMs);
    this.cluster = client instanceof Cluster;
    // A single node gets each call as soon as it is full; a Cluster's turn is split by slot first.
    this.batcher = new TurnBatcher<PendingOperation>((batch) => this.write(batch), this.cluster ? Number.POSITIVE_INFINITY : MAX_OPERATIONS_PER_CALL);
    // A refund needs no limits: it is appended and capped at the next read (token-bucket.lua).
    this.refunds = new HeldRefunds((key, amount) => this.operate(key, 'a', [], [amount], 0), REFUND_HOLD_MS);
  }

  take(client: string, requests: BucketCharge, tokens?: BucketCharge): Promise<Decision> {
    if (tokens === undefined) {
      return this.operate(bucketKeyName(client), 'r', [requests.limits], [requests.cost], 2).then((reply) => {
        const allowed = reply[0] === 1;
        const state = stateOf(reply[1] as number, requests, allowed);
        return { allowed, retryAfterMs: state.retryAfterMs, requests: state, tokens: undefined };
      });
    }
    const key = bucketKeyName(client);
    const refund = this.refunds.claim(key);
    const decided = this.operate(key, 'b', [requests.limits, tokens.limits], [requests.cost, tokens.cost, refund?.amount ?? 0], 3);
    if (refund !== undefined) decided.then(() => refund.done(), (error: unknown) => refund.done(error));
    return decided.then((reply) => {
      const allowed = reply[0] === 1;
      const requestState = stateOf(reply[1] as number, requests, allowed);
      const tokenState = stateOf(reply[2] as number, tokens, allowed);
      return { allowed, retryAfterMs: Math.max(requestState.retryAfterMs, tokenState.retryAfterMs), requests: requestState, tokens: tokenState };
    });
  }

  settle(client: string, limits: BucketLimits, amount: number): Promise<void> {
    const key = bucketKeyName(client);
    // A refund waits for the client's next decision (held-refunds.ts). A debt is applied at once,
    // after any refund still held: capped first, as the refund would have been had it gone then.
    if (amount >= 0) return this.refunds.add(key, amount);
    const refund = this.refunds.claim(key);
    const applied = this.operate(key, 's', [limits], [refund?.amount ?? 0, amount], 0);
    if (refund !== undefined) applied.then(() => refund.done(), (error: unknown) => refund.done(error));
    return applied.then(() => undefined);
  }

  private operate(key: string, kind: string, limits: BucketLimits[], amounts: number[], replyLength: number): Promise<number[]> {
    const queue = (): Promise<number[]> => new Promise((resolve, reject) => this.batcher.add({ key, kind, limits, amounts, replyLength, resolve, reject }));
    const connecting = untilFirstReady(this.client, this.timeoutMs);
    return connecting === undefined ? queue() : connecting.then(queue);
  }

  /**
   * The turn's batch in calls of at most MAX_OPERATIONS_PER_CALL, each its own socket write, and
   * their deadlines.
   */
  private write(batch: readonly PendingOperation[]): void {
    try {
      for (const operations of callsOf(batch, this.cluster)) {
        const sent = new SentBatch(operations);
        this.client.tbrlBatch(operations.length, ...scriptArgs(operations)).then((replies) => sent.answer(replies), (error: unknown) => sent.fail(error));
        this.deadlines.track(sent);
      }
    } catch (error: unknown) {
      // This runs from setImmediate: a throw here would end the process, not one request.
      for (const operation of batch) operation.reject(error);
    }
  }
}

type StoreErrorKind = 'timeout' | 'connection' | 'script';

/** Sorts a store failure for the metrics: a slow Redis, a lost one and a broken script need different fixes. */
export function storeErrorKind(error: unknown): StoreErrorKind {
  if (error instanceof RedisReplyTimeoutError) return 'timeout';
  if (error instanceof Error && error.name === 'ReplyError') return 'script';
  return 'connection';
}
