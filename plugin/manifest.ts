// plugin/manifest.ts
// What EG's plugin loader requires. EG calls `init` at start-up and again on every config reload,
// so everything process-wide (hooks on the event bus, the catch-all handlers, the rejection
// guard) is installed once, and only the settings are taken afresh.

import type { Server } from 'node:http';
import type { PluginContext, PluginManifest } from './eg-types';
import { logger } from './logger';
import { appOfServer, installCatchAll } from './policies/detail-error-formatter/catch-all';
import { installClientErrorHandler } from './policies/detail-error-formatter/client-error';
import { detailErrorFormatterPolicy } from './policies/detail-error-formatter';
import { keyAuthPolicy } from './policies/key-auth';
import { proxyPolicy } from './policies/proxy';
import { tokenBucketRateLimitPolicy } from './policies/token-bucket-rate-limit';
import { onGatewayServerCreated } from './eg/server-bootstrap';
import { defaultMaxConnections, limitServer, setServerLimits } from './http/server-limits';
import { settingsOf, settingsSchema } from './settings';
import { pluginState } from './plugin-state';
import { installOps } from './ops';

const POLICIES = [detailErrorFormatterPolicy, keyAuthPolicy, tokenBucketRateLimitPolicy, proxyPolicy];

function installProcessHooks(context: PluginContext): void {
  if (pluginState.processHooksInstalled) return;
  pluginState.processHooksInstalled = true;
  // Express 4 does not catch rejected promises; on Node 20 one would end the process.
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (the gateway keeps running)');
  });
  for (const event of ['http-ready', 'https-ready']) {
    context.eventBus.on(event, ({ httpServer }: { httpServer: Server }) => {
      const app = appOfServer(httpServer);
      if (app) installCatchAll(app, context.config);
      installClientErrorHandler(httpServer);
    });
  }
  // After the catch-all: the request observer only prepends a listener, but keep this order.
  installOps(context);
  onGatewayServerCreated(limitServer);
}

/** Connection cap and client timeouts from the settings; applied again at every reload. */
function applySettings(raw: Readonly<Record<string, unknown>>): void {
  const settings = settingsOf(raw);
  setServerLimits({
    maxConnections: settings.maxConnections ?? defaultMaxConnections(),
    headersTimeoutMs: settings.headersTimeoutMs,
    requestTimeoutMs: settings.requestTimeoutMs,
    keepAliveTimeoutMs: settings.keepAliveTimeoutMs,
  });
}

const plugin: PluginManifest = {
  version: '1.2.0',
  policies: POLICIES.map((policy) => policy.name),
  schema: settingsSchema as unknown as PluginManifest['schema'],
  init(context: PluginContext): void {
    applySettings(context.settings);
    installProcessHooks(context);
    pluginState.settings = context.settings;
    for (const policy of POLICIES) context.registerPolicy(policy);
    pluginState.initCount += 1;
  },
};

export = plugin;
