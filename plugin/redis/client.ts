// plugin/redis/client.ts
// The process's Redis client for the buckets. EG re-runs every policy factory on each config
// reload: the client is created once per topology and reused, so reloads open no connections;
// when the topology itself changes, the old client is closed after in-flight decisions finish.

import type { RedisOptions } from 'ioredis';
import { registerReadinessCheck, unregisterReadinessCheck } from '../ops/readiness';
import { logger } from '../logger';
import { createTopologyClient, probeTopology, trackFirstReady, type ConnectedTopology, type TopologyClient } from './connect';
import type { RedisNodeAddress, RedisTopology } from './topology';

/** Grace before a replaced client is closed: decisions started on it may still be waiting. */
const REPLACED_CLIENT_GRACE_MS = 5_000;

let current: { signature: string; client: TopologyClient } | undefined;

/**
 * Options that keep a request's wait bounded whatever Redis does. No ioredis `commandTimeout`:
 * the decision timeout is the store's own (stores/reply-deadlines.ts), judged after pending
 * replies have been read, which a command timer is not. No auto-pipelining either: the store
 * batches its decisions itself (stores/redis-store.ts), and a user's option must not bring back
 * the batch that waits for the previous one.
 */
const BOUNDED_OPTIONS: RedisOptions = Object.freeze({
  // While Redis is away, commands fail at once instead of queueing behind a reconnect.
  enableOfflineQueue: false,
  enableAutoPipelining: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 1_000,
  keyPrefix: '',
  lazyConnect: false,
});

export function redisClientFor(topology: ConnectedTopology): TopologyClient {
  const signature = JSON.stringify(topology);
  if (current?.signature === signature) return current.client;
  const previous = current?.client;
  const client = createTopologyClient(topology, { ...BOUNDED_OPTIONS });
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

/** Where a topology points, for logs: hosts and ports only, never credentials. */
function describeRedisTopology(topology: RedisTopology): string {
  const list = (nodes: readonly RedisNodeAddress[]): string => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  switch (topology.kind) {
    case 'none': return 'in-process buckets (no Redis)';
    case 'single': {
      if (topology.url !== undefined) {
        const url = new URL(topology.url);
        return `single Redis ${url.hostname}:${url.port || '6379'}`;
      }
      const host = typeof topology.options['host'] === 'string' ? topology.options['host'] : '127.0.0.1';
      const port = typeof topology.options['port'] === 'number' ? topology.options['port'] : 6379;
      return `single Redis ${host}:${port}`;
    }
    case 'cluster': return `Redis Cluster via ${list(topology.nodes)}`;
    case 'sentinel': return `Redis Sentinel group ${topology.name} via ${list(topology.sentinels)}`;
  }
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
