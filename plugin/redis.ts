// plugin/redis.ts
// The process's Redis client for the buckets. EG re-runs every policy factory on each config
// reload: the client is created once per topology and reused, so reloads open no connections;
// when the topology itself changes, the old client is closed after in-flight decisions finish.

import type { RedisOptions } from 'ioredis';
import { registerReadinessCheck, unregisterReadinessCheck } from './health';
import { logger } from './logger';
import { createTopologyClient, probeTopology, trackFirstReady, type ConnectedTopology, type TopologyClient } from './redis-topology-client';
import { describeRedisTopology } from './redis-topology';

/** Grace before a replaced client is closed: decisions started on it may still be waiting. */
const REPLACED_CLIENT_GRACE_MS = 5_000;

export interface RedisClientSettings {
  /** Longest wait for one command; past it the decision fails (failureMode decides). */
  readonly commandTimeoutMs: number;
}

let current: { signature: string; client: TopologyClient } | undefined;

function boundedOptions(settings: RedisClientSettings): RedisOptions {
  return {
    // While Redis is away, commands fail at once instead of queueing behind a reconnect.
    enableOfflineQueue: false,
    // The store batches its decisions itself (stores/redis-store.ts); auto-pipelining held a
    // batch back while the previous one was in flight, and a user's option must not bring it back.
    enableAutoPipelining: false,
    commandTimeout: settings.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    keyPrefix: '',
    lazyConnect: false,
  };
}

export function redisClientFor(topology: ConnectedTopology, settings: RedisClientSettings): TopologyClient {
  const signature = JSON.stringify({ topology, settings });
  if (current?.signature === signature) return current.client;
  const previous = current?.client;
  const client = createTopologyClient(topology, boundedOptions(settings));
  trackFirstReady(client);
  let lastError = '';
  client.on('error', (error: Error) => {
    // ioredis emits an error per failed reconnect: log each distinct one, not a line per retry.
    if (error.message !== lastError) logger.warn({ err: error.message, redis: describeRedisTopology(topology) }, 'redis connection error');
    lastError = error.message;
  });
  client.on('ready', () => {
    if (lastError !== '') logger.info({ redis: describeRedisTopology(topology) }, 'redis connection ready again');
    lastError = '';
  });
  current = { signature, client };
  registerReadinessCheck('redis', () => probeTopology(client));
  if (previous) setTimeout(() => previous.disconnect(), REPLACED_CLIENT_GRACE_MS).unref();
  return client;
}

/** Closes the client (graceful shutdown, or a reload that drops Redis). */
export async function closeRedis(): Promise<void> {
  const closing = current?.client;
  current = undefined;
  unregisterReadinessCheck('redis');
  if (!closing) return;
  try {
    await closing.quit();
  } catch {
    closing.disconnect();
  }
}
