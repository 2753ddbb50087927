// plugin/settings.ts
// The plugin's settings (system.config.yml `plugins.llm-gateway`): types, defaults and schema in
// one place. EG validates them with its ajv at load; `package` is EG's own key and sits here too,
// which is why the schema cannot forbid additional properties.

export type RedisSetting = string | Record<string, unknown> | null;

export interface PluginSettings {
  /** Where token buckets live: a redis:// URL or an ioredis options object. Null: in-process buckets. */
  readonly redis: RedisSetting;
}

export const DEFAULT_SETTINGS: PluginSettings = Object.freeze({ redis: null });

export const settingsSchema = {
  $id: 'http://express-gateway.io/schemas/plugins/llm-gateway.json',
  type: 'object',
  properties: {
    package: { type: 'string', description: 'Where EG loads the plugin from (EG\'s own setting)' },
    redis: {
      anyOf: [{ type: 'string' }, { type: 'object' }, { type: 'null' }],
      default: DEFAULT_SETTINGS.redis,
      description: 'redis:// URL or ioredis options for shared buckets; empty or null for in-process buckets',
    },
  },
} as const;
