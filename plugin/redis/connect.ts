// plugin/redis/connect.ts
// Builds the ioredis client for a parsed topology (one node, Sentinel group or Cluster) with the
// same bounded-latency options on every node, and the readiness probe that fits each topology.

import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTopology } from './topology';

/** A Redis or a Cluster: both run defineCommand'ed scripts, and EVALSHA falls back to EVAL per node. */
export type TopologyClient = Redis | Cluster;

export type ConnectedTopology = Exclude<RedisTopology, { kind: 'none' }>;

/** Longest wait between two reconnection attempts, for every topology. */
const MAX_RECONNECT_DELAY_MS = 500;

/**
 * Reconnection backs off quickly to a short ceiling: during a failover the old primary refuses
 * connections until the sentinels promote a replica (about 2 s with down-after 1 s), and a long
 * back-off (ioredis' default grows to 2 s) would keep limiting down for that long again after
 * the promotion.
 */
function reconnectDelay(times: number): number {
  return Math.min(times * 50, MAX_RECONNECT_DELAY_MS);
}

/**
 * `bounded` holds the options that keep a request's wait short whatever happens to Redis
 * (no offline queue, no per-request retries, no auto-pipelining; the decision timeout is the
 * store's own); they are applied after the topology's own options so that no topology can lose them.
 */
export function createTopologyClient(topology: ConnectedTopology, bounded: RedisOptions): TopologyClient {
  switch (topology.kind) {
    case 'single':
      return topology.url !== undefined
        ? new Redis(topology.url, { retryStrategy: reconnectDelay, ...topology.options, ...bounded })
        : new Redis({ retryStrategy: reconnectDelay, ...topology.options, ...bounded });
    case 'sentinel':
      return new Redis({
        retryStrategy: reconnectDelay,
        // Sentinels publish +switch-master: reconnect to the promoted replica as soon as it is
        // announced rather than at the next retry.
        failoverDetector: true,
        // A demoted primary that comes back as a replica answers writes with READONLY: leave it
        // for the primary the sentinels name now (1: reconnect, without resending the command).
        reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 1 : false),
        ...topology.options,
        ...bounded,
        sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
        name: topology.name,
      });
    case 'cluster': {
      const { redisOptions, ...clusterOptions } = topology.options as ClusterOptions & Record<string, unknown>;
      const options: ClusterOptions = {
        clusterRetryStrategy: reconnectDelay,
        ...clusterOptions,
        // The cluster object queues too, apart from its node connections: bound it as well.
        enableOfflineQueue: false,
        // Buckets are written by every decision: reads from replicas would only be stale.
        scaleReads: 'master',
        // Auto-pipelined commands whose slot is migrating came back as "Too many Cluster
        // redirections" (ASK not followed): every decision on that bucket failed during a slot
        // move (test/redis-cluster.test.ts). Cluster nodes send each command on its own, and the
        // store does not batch Cluster decisions either.
        redisOptions: { ...(redisOptions ?? {}), ...bounded, enableAutoPipelining: false },
      };
      return new Cluster(topology.nodes.map(({ host, port }) => ({ host, port })), options);
    }
  }
}

const firstReadyOf = new WeakMap<TopologyClient, Promise<void>>();

/**
 * Records when a new client first becomes ready. Without an offline queue, a command sent while
 * the first connection is still being made fails at once: a gateway that starts serving a few
 * milliseconds before its Redis connection is up would answer its first requests 500.
 */
export function trackFirstReady(client: TopologyClient): void {
  firstReadyOf.set(client, new Promise<void>((resolve) => client.once('ready', () => {
    firstReadyOf.delete(client);
    resolve();
  })));
}

/**
 * Waits, at most `waitMs`, for a client's first connection; resolves at once once it has been
 * ready (later outages fail fast, as the offline queue is off for that reason). Undefined means
 * no wait, so that the hot path allocates nothing.
 */
export function untilFirstReady(client: TopologyClient, waitMs: number): Promise<void> | undefined {
  if (client.status === 'ready') return undefined;
  const firstReady = firstReadyOf.get(client);
  if (firstReady === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs); });
  return Promise.race([firstReady, gaveUp]).finally(() => clearTimeout(timer));
}

/** The key the readiness probe reads; its hash tag pins it to one slot, so one primary answers. */
export const READINESS_PROBE_KEY = 'llm-gateway:{readyz}';

/**
 * Readiness: one round trip to the node that would decide a request. For a Cluster that is the
 * primary owning the probe key's slot, reached through the client's own slot map (a read of the
 * probe key); for Sentinel, the current primary (ioredis connects only to the primary the
 * sentinels name, so a PING reaches it).
 */
export async function probeTopology(client: TopologyClient): Promise<void> {
  if (client instanceof Cluster) {
    await client.exists(READINESS_PROBE_KEY);
    return;
  }
  const reply = await client.ping();
  if (reply !== 'PONG') throw new Error(`unexpected PING reply from Redis: ${reply}`);
}
