// plugin/settings.ts
// The plugin's settings (system.config.yml `plugins.llm-gateway`): types, defaults and schema in
// one place. EG validates them with its ajv at load; `package` is EG's own key and sits here too,
// which is why the schema cannot forbid additional properties. Which Redis topology the settings
// name is parsed in redis-topology.ts.

import type { RedisTopologySettings } from './redis-topology';

export interface PluginSettings extends RedisTopologySettings {
  /**
   * Longest wait for Redis' answer to one decision, ms, from when it was written. Default 100: an
   * answer within the bound during an outage. Past it (judged once the replies that already came
   * have been read) the decision fails and the policy's failureMode answers.
   */
  readonly redisCommandTimeoutMs: number;
}

export const DEFAULT_SETTINGS = Object.freeze({ redisCommandTimeoutMs: 100 });

export const settingsSchema = {
  $id: 'http://express-gateway.io/schemas/plugins/llm-gateway.json',
  type: 'object',
  properties: {
    package: { type: 'string', description: 'Where EG loads the plugin from (EG\'s own setting)' },
    redis: {
      anyOf: [{ type: 'string' }, { type: 'object' }, { type: 'null' }],
      description: 'One Redis node: redis:// URL or ioredis options (or { cluster } / { sentinels, name }); empty for in-process buckets',
    },
    redisClusterNodes: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Redis Cluster seed nodes, host:port,host:port' },
    redisSentinels: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Redis Sentinels, host:port,host:port' },
    redisSentinelName: { anyOf: [{ type: 'string' }, { type: 'null' }], description: 'Name the sentinels monitor the primary under' },
    redisCommandTimeoutMs: { type: 'integer', minimum: 1, default: DEFAULT_SETTINGS.redisCommandTimeoutMs, description: 'Longest wait for Redis to answer one rate-limit decision (ms)' },
  },
} as const;

/** The settings EG validated, typed. */
export function settingsOf(raw: Readonly<Record<string, unknown>>): PluginSettings {
  const timeout = raw['redisCommandTimeoutMs'];
  return {
    redis: raw['redis'],
    redisClusterNodes: raw['redisClusterNodes'],
    redisSentinels: raw['redisSentinels'],
    redisSentinelName: raw['redisSentinelName'],
    redisCommandTimeoutMs: typeof timeout === 'number' ? timeout : DEFAULT_SETTINGS.redisCommandTimeoutMs,
  };
}
