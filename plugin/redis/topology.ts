// plugin/redis/topology.ts
// Which Redis the buckets live in: one node, a Cluster or a Sentinel group, parsed from the plugin
// settings (or from the REDIS_* variables) into one typed value. Pure: no client is created here.

/** A node as ioredis takes it for Cluster seeds and sentinels. */
export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** ioredis options passed through as given (for Cluster: ClusterOptions, incl. `redisOptions`). */
type RedisClientOptions = Readonly<Record<string, unknown>>;

export type RedisTopology =
  /** No Redis: in-process buckets. */
  | { readonly kind: 'none' }
  /** One node: a redis:// / rediss:// URL, or ioredis options (host, port, password, tls ...). */
  | { readonly kind: 'single'; readonly url: string | undefined; readonly options: RedisClientOptions }
  /** A Redis Cluster, reached through any of its seed nodes. */
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNodeAddress[]; readonly options: RedisClientOptions }
  /** A primary/replica group that sentinels watch and fail over. */
  | { readonly kind: 'sentinel'; readonly sentinels: readonly RedisNodeAddress[]; readonly name: string; readonly options: RedisClientOptions };

/** The settings that pick a topology; the shipped system.config.yml fills each from one variable. */
export interface RedisTopologySettings {
  /** redis:// URL | ioredis options | `{ cluster: [...] }` | `{ sentinels: [...], name }` | null / '' */
  readonly redis?: unknown;
  /** `host:port,host:port` seed nodes of a Cluster. */
  readonly redisClusterNodes?: unknown;
  /** `host:port,host:port` sentinels. */
  readonly redisSentinels?: unknown;
  /** Name the sentinels monitor the primary under. */
  readonly redisSentinelName?: unknown;
}

const DEFAULT_SENTINEL_NAME = 'mymaster';

/** The environment variables the shipped system.config.yml maps onto the settings above. */
export const REDIS_ENV = Object.freeze({
  redis: 'REDIS_URL',
  redisClusterNodes: 'REDIS_CLUSTER_NODES',
  redisSentinels: 'REDIS_SENTINELS',
  redisSentinelName: 'REDIS_SENTINEL_NAME',
} as const);

type TopologyField = keyof typeof REDIS_ENV;
type Labels = Readonly<Record<TopologyField, string>>;

const SETTING_LABELS: Labels = Object.freeze({
  redis: `redis (${REDIS_ENV.redis})`,
  redisClusterNodes: `redisClusterNodes (${REDIS_ENV.redisClusterNodes})`,
  redisSentinels: `redisSentinels (${REDIS_ENV.redisSentinels})`,
  redisSentinelName: `redisSentinelName (${REDIS_ENV.redisSentinelName})`,
});

export class RedisTopologyError extends Error {
  readonly code = 'ERR_LLMGW_REDIS_TOPOLOGY';
  override readonly name = 'RedisTopologyError';
}

/**
 * Parses the plugin settings into a topology. Throws RedisTopologyError on a setting that cannot
 * work, naming the setting (and its variable) but never echoing a value: URLs carry passwords.
 */
export function parseRedisTopology(settings: RedisTopologySettings): RedisTopology {
  return parseWithLabels(settings, SETTING_LABELS);
}

/** Reads REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS, REDIS_SENTINEL_NAME; errors name the variables. */
export function redisTopologyFromEnv(env: Readonly<Record<string, string | undefined>>): RedisTopology {
  return parseWithLabels({
    redis: env[REDIS_ENV.redis],
    redisClusterNodes: env[REDIS_ENV.redisClusterNodes],
    redisSentinels: env[REDIS_ENV.redisSentinels],
    redisSentinelName: env[REDIS_ENV.redisSentinelName],
  }, REDIS_ENV);
}

/** Values that mean "not set": EG substitutes an unset `${VAR:-}` with null, a set-but-empty one with ''. */
function isUnset(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

function parseWithLabels(settings: RedisTopologySettings, labels: Labels): RedisTopology {
  const chosen = (['redis', 'redisClusterNodes', 'redisSentinels'] as const).filter((field) => !isUnset(settings[field]));
  if (chosen.length > 1) {
    const names = chosen.map((field) => labels[field]).join(' and ');
    throw new RedisTopologyError(`${names} are ${chosen.length === 2 ? 'both' : 'all'} set, but the buckets live in one Redis: `
      + `set at most one of ${labels.redis}, ${labels.redisClusterNodes}, ${labels.redisSentinels}`);
  }
  const field = chosen[0];
  if (field === undefined) return Object.freeze({ kind: 'none' });
  if (field === 'redisClusterNodes') {
    return freeze({ kind: 'cluster', nodes: parseNodeList(settings.redisClusterNodes, labels.redisClusterNodes), options: {} });
  }
  if (field === 'redisSentinels') {
    return freeze({
      kind: 'sentinel',
      sentinels: parseNodeList(settings.redisSentinels, labels.redisSentinels),
      name: parseSentinelName(settings.redisSentinelName, labels.redisSentinelName),
      options: {},
    });
  }
  return parseRedisSetting(settings.redis, labels.redis);
}

function parseRedisSetting(value: unknown, label: string): RedisTopology {
  if (typeof value === 'string') {
    const url = value.trim();
    let protocol: string;
    try {
      protocol = new URL(url).protocol;
    } catch {
      throw new RedisTopologyError(`${label} must be a redis:// or rediss:// URL (or an options object)`);
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') {
      throw new RedisTopologyError(`${label} must be a redis:// or rediss:// URL, not a ${protocol} one`);
    }
    return freeze({ kind: 'single', url, options: {} });
  }
  if (!isPlainObject(value)) throw new RedisTopologyError(`${label} must be a URL string or an options object`);
  const { cluster, sentinels, name, ...options } = value;
  if (cluster !== undefined && sentinels !== undefined) {
    throw new RedisTopologyError(`${label} has both cluster and sentinels: a deployment has one topology`);
  }
  if (cluster !== undefined) {
    if (name !== undefined) options['name'] = name;
    return freeze({ kind: 'cluster', nodes: parseNodeList(cluster, `${label}.cluster`), options });
  }
  if (sentinels !== undefined) {
    return freeze({ kind: 'sentinel', sentinels: parseNodeList(sentinels, `${label}.sentinels`), name: parseSentinelName(name, `${label}.name`), options });
  }
  if (name !== undefined) options['name'] = name;
  return freeze({ kind: 'single', url: undefined, options });
}

function parseSentinelName(value: unknown, label: string): string {
  if (isUnset(value)) return DEFAULT_SENTINEL_NAME;
  if (typeof value !== 'string') throw new RedisTopologyError(`${label} must be a string`);
  return value.trim();
}

/** `"h:p,h:p"`, or an array of `"h:p"` strings and `{ host, port }` objects. */
function parseNodeList(value: unknown, label: string): readonly RedisNodeAddress[] {
  const entries: unknown[] = typeof value === 'string'
    ? value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
    : Array.isArray(value) ? value : [value];
  if (entries.length === 0) throw new RedisTopologyError(`${label} lists no node (expected host:port,host:port)`);
  return Object.freeze(entries.map((entry, index) => Object.freeze(parseNode(entry, `${label}[${index}]`))));
}

function parseNode(entry: unknown, label: string): RedisNodeAddress {
  if (typeof entry === 'string') {
    // `[::1]:7000` for IPv6; otherwise the last colon separates the port.
    const match = /^\[([^\]]+)\]:(\d+)$/.exec(entry) ?? /^([^:]+):(\d+)$/.exec(entry);
    if (!match) throw new RedisTopologyError(`${label} must be host:port`);
    return { host: match[1] as string, port: parsePort(Number(match[2]), label) };
  }
  if (isPlainObject(entry)) {
    const { host, port } = entry;
    if (host !== undefined && (typeof host !== 'string' || host.trim() === '')) throw new RedisTopologyError(`${label}.host must be a non-empty string`);
    const numericPort = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
    return { host: typeof host === 'string' ? host.trim() : '127.0.0.1', port: parsePort(numericPort, `${label}.port`) };
  }
  throw new RedisTopologyError(`${label} must be host:port or { host, port }`);
}

function parsePort(value: unknown, label: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new RedisTopologyError(`${label} must be a port between 1 and 65535`);
  }
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function freeze<T extends RedisTopology>(topology: T): T {
  if ('options' in topology) Object.freeze(topology.options);
  return Object.freeze(topology);
}
