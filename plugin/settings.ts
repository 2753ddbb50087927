// plugin/settings.ts
// The plugin's settings (system.config.yml `plugins.llm-gateway`): types, defaults and schema in
// one place. EG validates them with its ajv at load; `package` is EG's own key and sits here too,
// which is why the schema cannot forbid additional properties. Which Redis topology the settings
// name is parsed in redis-topology.ts.

import type { RedisTopologySettings } from './redis/topology';
import { EG_PLUGIN_SETTINGS } from './eg/policy-registry';
import { onlyDeclared } from './policies/closed-params';

export interface PluginSettings extends RedisTopologySettings {
  /**
   * Longest wait for Redis' answer to one decision, ms, from when it was written. Default 100: an
   * answer within the bound during an outage. Past it (judged once the replies that already came
   * have been read) the decision fails and the policy's failureMode answers.
   */
  readonly redisCommandTimeoutMs: number;
  /** Most connections the public listener keeps open; undefined: derived from the fd limit. */
  readonly maxConnections: number | undefined;
  /** Time a client has to send a request's headers, ms. Default 10000 (Node's own: 60000). */
  readonly headersTimeoutMs: number;
  /** Time a client has to send a whole request, headers and body, ms. Default 60000. */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection is kept, ms. Default 5000 (Node's own). */
  readonly keepAliveTimeoutMs: number;
}

export const DEFAULT_SETTINGS = Object.freeze({
  redisCommandTimeoutMs: 100,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
});

const milliseconds = (description: string, fallback: number) => ({ type: 'integer', minimum: 1, maximum: 3_600_000, default: fallback, description });

const properties = {
  package: { type: 'string', description: 'Where EG loads the plugin from (EG\'s own setting)' },
  redis: {
    anyOf: [{ type: 'string' }, { type: 'object' }, { type: 'null' }],
    description: 'One Redis node: redis:// URL or ioredis options (or { cluster } / { sentinels, name }); empty for in-process buckets',
  },
  redisClusterNodes: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Redis Cluster seed nodes, host:port,host:port' },
  redisSentinels: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Redis Sentinels, host:port,host:port' },
  redisSentinelName: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Name the sentinels monitor the primary under' },
  redisCommandTimeoutMs: { type: 'integer', minimum: 1, default: DEFAULT_SETTINGS.redisCommandTimeoutMs, description: 'Longest wait for Redis to answer one rate-limit decision (ms)' },
  maxConnections: { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'null' }], description: 'Most open connections on the public listener; default derived from the fd limit' },
  headersTimeoutMs: milliseconds('Time a client has to send its request headers (ms)', DEFAULT_SETTINGS.headersTimeoutMs),
  requestTimeoutMs: milliseconds('Time a client has to send its whole request (ms)', DEFAULT_SETTINGS.requestTimeoutMs),
  keepAliveTimeoutMs: milliseconds('How long an idle keep-alive connection is kept (ms)', DEFAULT_SETTINGS.keepAliveTimeoutMs),
} as const;

export const settingsSchema = {
  $id: 'http://express-gateway.io/schemas/plugins/llm-gateway.json',
  type: 'object',
  properties,
  propertyNames: onlyDeclared(properties, EG_PLUGIN_SETTINGS),
} as const;

const integerOr = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isInteger(value) ? value : fallback);

/** The settings EG validated, typed. */
export function settingsOf(raw: Readonly<Record<string, unknown>>): PluginSettings {
  const maxConnections = raw['maxConnections'];
  return {
    redis: raw['redis'],
    redisClusterNodes: raw['redisClusterNodes'],
    redisSentinels: raw['redisSentinels'],
    redisSentinelName: raw['redisSentinelName'],
    redisCommandTimeoutMs: integerOr(raw['redisCommandTimeoutMs'], DEFAULT_SETTINGS.redisCommandTimeoutMs),
    maxConnections: typeof maxConnections === 'number' && Number.isInteger(maxConnections) ? maxConnections : undefined,
    headersTimeoutMs: integerOr(raw['headersTimeoutMs'], DEFAULT_SETTINGS.headersTimeoutMs),
    requestTimeoutMs: integerOr(raw['requestTimeoutMs'], DEFAULT_SETTINGS.requestTimeoutMs),
    keepAliveTimeoutMs: integerOr(raw['keepAliveTimeoutMs'], DEFAULT_SETTINGS.keepAliveTimeoutMs),
  };
}
