// plugin/stores/redis-store.ts
// Buckets in Redis, shared by every gateway instance. Each decision is one EVALSHA of
// token-bucket.lua (ioredis' defineCommand falls back to EVAL on NOSCRIPT, per node on a
// Cluster), on one key whose name is `tbrl:{<hash>}`: the hash tag pins the key to one slot, and
// the hash keeps client identities (key ids, IPs) out of Redis key names.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Result } from 'ioredis';
import { untilFirstReady, type TopologyClient } from '../redis-topology-client';
import type { BucketLimits, BucketStore, TakeResult } from './store';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tbrlTake(key: string, capacity: string, refillRate: string, cost: string): Result<[number, string, number, number], Context>;
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

export class RedisStore implements BucketStore {
  readonly kind = 'redis';

  /** `connectWaitMs`: how long a decision may wait for the client's very first connection. */
  constructor(private readonly client: TopologyClient, private readonly connectWaitMs: number) {
    defineTakeCommand(client);
  }

  async take(key: string, limits: BucketLimits, cost: number): Promise<TakeResult> {
    const connecting = untilFirstReady(this.client, this.connectWaitMs);
    if (connecting !== undefined) await connecting;
    const [allowed, tokens, retryAfterUs, fullInUs] = await this.client.tbrlTake(
      bucketKeyName(key), String(limits.capacity), String(limits.refillRate), String(cost),
    );
    return { allowed: allowed === 1, remaining: Number(tokens), retryAfterMs: retryAfterUs / 1000, fullInMs: fullInUs / 1000 };
  }
}

export type StoreErrorKind = 'timeout' | 'connection' | 'script';

/** Sorts a store failure for the metrics: a slow event loop and a dead Redis need different fixes. */
export function storeErrorKind(error: unknown): StoreErrorKind {
  const message = error instanceof Error ? error.message : String(error);
  if (/timed out/i.test(message)) return 'timeout';
  if (error instanceof Error && error.name === 'ReplyError') return 'script';
  return 'connection';
}
