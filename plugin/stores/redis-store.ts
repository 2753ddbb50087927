// plugin/stores/redis-store.ts
// Buckets in Redis, shared by every gateway instance. A decision is one EVALSHA of
// token-bucket.lua over the client's request bucket and, with LLM-token limits, its token bucket;
// a settlement one EVALSHA of token-settle.lua (ioredis' defineCommand falls back to EVAL on
// NOSCRIPT, per node on a Cluster). Both buckets of a client are named `tbrl:{<hash>}` and
// `tbrl:{<hash>}:t`: the hash tag puts them in one slot, so one script on one primary takes
// both, and the hash keeps client identities (key ids, IPs) out of Redis key names.
//
// Commands asked for in one event-loop turn leave together as one pipeline (one socket write),
// which never waits for an earlier batch's answer: a decision costs one Redis round trip. ioredis'
// auto-pipelining, which this replaces, held a batch back while the previous one was in flight
// (two round trips under concurrency). On a Cluster each command is sent on its own: ioredis does
// not redirect a pipeline whose commands meet MOVED/ASK only in part (auto-pipelined decisions
// failed that way during a slot migration, test/redis-cluster.test.ts). The timeout is the
// store's own, see reply-deadlines.ts.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Cluster, type Result } from 'ioredis';
import { untilFirstReady, type TopologyClient } from '../redis/connect';
import { RedisReplyTimeoutError, ReplyDeadlines } from './reply-deadlines';
import { SentBatch, type PendingCommand } from './sent-batch';
import type { BucketCharge, BucketLimits, BucketState, BucketStore, Decision } from './store';
import { TurnBatcher } from './turn-batcher';

/** allowed, retry µs, then per bucket: tokens left, wait µs, full in µs. */
type TakeReply = [number, number, ...Array<string | number>];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tbrlTake(numberOfKeys: number, ...keysAndArgs: string[]): Result<TakeReply, Context>;
    tbrlSettle(key: string, capacity: string, refillRate: string, amount: string): Result<string, Context>;
  }
}

const SCRIPTS = {
  // No fixed number of keys: a decision has one bucket or two.
  tbrlTake: { lua: fs.readFileSync(path.join(__dirname, 'token-bucket.lua'), 'utf8') },
  tbrlSettle: { numberOfKeys: 1, lua: fs.readFileSync(path.join(__dirname, 'token-settle.lua'), 'utf8') },
} as const;

/** The Redis key of a client's request bucket; its token bucket is the same name with `:t`. */
export function bucketKeyName(client: string): string {
  return `tbrl:{${createHash('sha256').update(client).digest('base64url').slice(0, 32)}}`;
}

function defineCommands(client: TopologyClient): void {
  for (const [name, definition] of Object.entries(SCRIPTS)) {
    if (typeof (client as unknown as Record<string, unknown>)[name] !== 'function') client.defineCommand(name, definition);
  }
}

function stateAt(reply: TakeReply, index: number): BucketState {
  const base = 2 + index * 3;
  return { remaining: Number(reply[base]), retryAfterMs: Number(reply[base + 1]) / 1000, fullInMs: Number(reply[base + 2]) / 1000 };
}

function toDecision(reply: TakeReply, withTokens: boolean): Decision {
  return { allowed: reply[0] === 1, retryAfterMs: reply[1] / 1000, requests: stateAt(reply, 0), tokens: withTokens ? stateAt(reply, 1) : undefined };
}

const chargeArgs = (charge: BucketCharge): string[] => [String(charge.limits.capacity), String(charge.limits.refillRate), String(charge.cost)];

export class RedisStore implements BucketStore {
  readonly kind = 'redis';
  private readonly deadlines: ReplyDeadlines;
  private readonly send: (command: PendingCommand) => void;

  /**
   * `timeoutMs`: how long a command waits for Redis' answer once written, and, before the
   * client's very first connection, how long it may wait for that connection.
   */
  constructor(private readonly client: TopologyClient, private readonly timeoutMs: number) {
    defineCommands(client);
    this.deadlines = new ReplyDeadlines(timeoutMs);
    if (client instanceof Cluster) {
      this.send = (command) => this.write([command]);
    } else {
      const batcher = new TurnBatcher<PendingCommand>((commands) => this.write(commands));
      this.send = (command) => batcher.add(command);
    }
  }

  take(client: string, requests: BucketCharge, tokens?: BucketCharge): Promise<Decision> {
    const key = bucketKeyName(client);
    const args = tokens === undefined
      ? ['1', key, ...chargeArgs(requests)]
      : ['2', key, `${key}:t`, ...chargeArgs(requests), ...chargeArgs(tokens)];
    return this.call<TakeReply>('tbrlTake', args).then((reply) => toDecision(reply, tokens !== undefined));
  }

  settle(client: string, limits: BucketLimits, amount: number): Promise<void> {
    const args = [`${bucketKeyName(client)}:t`, String(limits.capacity), String(limits.refillRate), String(amount)];
    return this.call<string>('tbrlSettle', args).then(() => undefined);
  }

  private call<T>(command: PendingCommand['command'], args: string[]): Promise<T> {
    const sendNow = (): Promise<T> => new Promise<T>((resolve, reject) => {
      this.send({ command, args, resolve: resolve as (reply: unknown) => void, reject });
    });
    const connecting = untilFirstReady(this.client, this.timeoutMs);
    return connecting === undefined ? sendNow() : connecting.then(sendNow);
  }

  /** One socket write for `commands` (a single command, or a pipeline), and its deadline. */
  private write(commands: readonly PendingCommand[]): void {
    const sent = new SentBatch(commands);
    const [first] = commands;
    try {
      if (commands.length === 1 && first !== undefined) {
        const [head, ...rest] = first.args;
        (this.client[first.command] as (...args: unknown[]) => Promise<unknown>)(head, ...rest)
          .then((reply) => sent.answer([[null, reply]]), (error: unknown) => sent.fail(error));
      } else {
        const pipeline = this.client.pipeline() as unknown as Record<string, (...args: unknown[]) => unknown> & { exec(): Promise<Array<[Error | null, unknown]> | null> };
        for (const command of commands) pipeline[command.command]?.(...command.args);
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
