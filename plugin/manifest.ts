// plugin/manifest.ts
// What EG's plugin loader requires: the one list of the plugin's policies, and `init`, which EG
// calls at start-up and again on every config reload.

import type { PluginContext, PluginManifest, PolicyDefinition } from './eg/types';
import { detailErrorFormatterPolicy } from './policies/detail-error-formatter';
import { keyAuthPolicy } from './policies/key-auth';
import { proxyPolicy } from './policies/proxy';
import { tokenBucketRateLimitPolicy } from './policies/token-bucket-rate-limit';
import { install } from './runtime';
import { settingsSchema } from './settings';

const POLICIES: readonly PolicyDefinition[] = [detailErrorFormatterPolicy, keyAuthPolicy, tokenBucketRateLimitPolicy, proxyPolicy];

const plugin: PluginManifest = {
  // The engine version EG's loader compares against: higher makes it log a warning.
  version: '1.2.0',
  policies: POLICIES.map((policy) => policy.name),
  schema: settingsSchema as unknown as PluginManifest['schema'],
  init(context: PluginContext): void {
    install(context);
    for (const policy of POLICIES) context.registerPolicy(policy);
  },
};

export = plugin;
