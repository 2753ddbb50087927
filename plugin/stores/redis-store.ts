// plugin/stores/redis-store.ts
// Buckets in Redis, shared by every gateway instance. Each decision is one EVALSHA of
// token-bucket.lua (ioredis' defineCommand falls back to EVAL on NOSCRIPT, per node on a
// Cluster), on one key whose name is `tbrl:{<hash>}`: the hash tag pins the key to one slot, and
// the hash keeps client identities (key ids, IPs) out of Redis key names.
//
// Decisions asked for in one event-loop turn leave together as one pipeline (one socket write),
// which never waits for an earlier batch's answer: a decision costs one Redis round trip. ioredis'
// auto-pipelining, which this replaces, held a batch back while the previous one was in flight
// (two round trips under concurrency). On a Cluster each decision is sent on its own: ioredis does
// not redirect a pipeline whose commands meet MOVED/ASK only in part (auto-pipelined decisions
// failed that way during a slot migration, test/redis-cluster.test.ts). The timeout is the
// store's own, see reply-deadlines.ts.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Cluster, type Result } from 'ioredis';
import { untilFirstReady, type TopologyClient } from '../redis/connect';
import { RedisReplyTimeoutError, ReplyDeadlines, type AwaitingReply } from './reply-deadlines';
import type { BucketLimits, BucketStore, TakeResult } from './store';
import { TurnBatcher } from './turn-batcher';

type TakeReply = [allowed: number, tokens: string, retryAfterUs: number, fullInUs: number];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tbrlTake(key: string, capacity: string, refillRate: string, cost: string): Result<TakeReply, Context>;
  }
}

const SCRIPT = fs.readFileSync(path.join(__dirname, 'token-bucket.lua'), 'utf8');
const COMMAND = 'tbrlTake';

/** The Redis key of a bucket. */
export function bucketKeyName(bucketKey: string): string {
  return `tbrl:{${createHash('sha256').update(bucketKey).digest('base64url').slice(0, 32)}}`;
}

function defineTakeCommand(client: TopologyClient): void {
  if (typeof (client as unknown as Record<string, unknown>)[COMMAND] === 'function') return;
  client.defineCommand(COMMAND, { numberOfKeys: 1, lua: SCRIPT });
}

/** One decision waiting to be sent, with the script's arguments. */
interface PendingTake {
  readonly key: string;
  readonly capacity: string;
  readonly refillRate: string;
  readonly cost: string;
  readonly resolve: (result: TakeResult) => void;
  readonly reject: (error: unknown) => void;
}

function toResult(reply: TakeReply): TakeResult {
  const [allowed, tokens, retryAfterUs, fullInUs] = reply;
  return { allowed: allowed === 1, remaining: Number(tokens), retryAfterMs: retryAfterUs / 1000, fullInMs: fullInUs / 1000 };
}

/** Decisions written in one go: answered together, or failed together when Redis stays silent. */
class SentTakes implements AwaitingReply {
  answered = false;

  constructor(private readonly takes: readonly PendingTake[]) {}

  /** `replies[i]` answers `takes[i]`, as ioredis' pipeline results ([error, reply]). */
  answer(replies: ReadonlyArray<[Error | null, unknown]> | null): void {
    if (this.answered) return;
    this.answered = true;
    this.takes.forEach((take, i) => {
      const [error, reply] = replies?.[i] ?? [new Error('Redis gave no reply for a pipelined decision'), undefined];
      if (error) take.reject(error);
      else take.resolve(toResult(reply as TakeReply));
    });
  }

  fail(error: unknown): void {
    if (this.answered) return;
    this.answered = true;
    for (const take of this.takes) take.reject(error);
  }

  expire(error: RedisReplyTimeoutError): void {
    this.fail(error);
  }
}

export class RedisStore implements BucketStore {
  readonly kind = 'redis';
  private readonly deadlines: ReplyDeadlines;
  private readonly send: (take: PendingTake) => void;

  /**
   * `timeoutMs`: how long a decision waits for Redis' answer once written, and, before the
   * client's very first connection, how long it may wait for that connection.
   */
  constructor(private readonly client: TopologyClient, private readonly timeoutMs: number) {
    defineTakeCommand(client);
    this.deadlines = new ReplyDeadlines(timeoutMs);
    if (client instanceof Cluster) {
      this.send = (take) => this.write([take]);
    } else {
      const batcher = new TurnBatcher<PendingTake>((takes) => this.write(takes));
      this.send = (take) => batcher.add(take);
    }
  }

  take(key: string, limits: BucketLimits, cost: number): Promise<TakeResult> {
    const connecting = untilFirstReady(this.client, this.timeoutMs);
    if (connecting !== undefined) return connecting.then(() => this.decide(key, limits, cost));
    return this.decide(key, limits, cost);
  }

  private decide(key: string, limits: BucketLimits, cost: number): Promise<TakeResult> {
    return new Promise<TakeResult>((resolve, reject) => {
      this.send({ key: bucketKeyName(key), capacity: String(limits.capacity), refillRate: String(limits.refillRate), cost: String(cost), resolve, reject });
    });
  }

  /** One socket write for `takes` (a single command, or a pipeline), and its deadline. */
  private write(takes: readonly PendingTake[]): void {
    const sent = new SentTakes(takes);
    const [first] = takes;
    try {
      if (takes.length === 1 && first !== undefined) {
        this.client.tbrlTake(first.key, first.capacity, first.refillRate, first.cost)
          .then((reply) => sent.answer([[null, reply]]), (error: unknown) => sent.fail(error));
      } else {
        const pipeline = this.client.pipeline();
        for (const take of takes) pipeline.tbrlTake(take.key, take.capacity, take.refillRate, take.cost);
        pipeline.exec().then((replies) => sent.answer(replies), (error: unknown) => sent.fail(error));
      }
    } catch (error: unknown) {
      // This runs from setImmediate: a throw here would end the process, not one request.
      sent.fail(error);
      return;
    }
    this.deadlines.track(sent);
  }
}

type StoreErrorKind = 'timeout' | 'connection' | 'script';

/** Sorts a store failure for the metrics: a slow Redis, a lost one and a broken script need different fixes. */
export function storeErrorKind(error: unknown): StoreErrorKind {
  if (error instanceof RedisReplyTimeoutError) return 'timeout';
  if (error instanceof Error && error.name === 'ReplyError') return 'script';
  return 'connection';
}
