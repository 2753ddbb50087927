// plugin/runtime.ts
// The process's singletons. EG calls the manifest's `init` at start-up and again on every config
// reload, and rebuilds every policy each time: what belongs to the process (hooks on EG's event
// bus and servers, the ops listener, the Redis client, the bucket stores) is made once here and
// handed to each new policy instance; only the settings are taken afresh at each `init`.

import type { Server } from 'node:http';
import { onGatewayServerCreated } from './eg/server-bootstrap';
import { assertSupportedExpressGateway } from './eg/version';
import { routeEgLogsToJson } from './eg/winston-json';
import type { PluginContext } from './eg/types';
import { appOfServer } from './eg/app-of-server';
import { installCatchAll } from './http/catch-all';
import { installClientErrorHandler } from './http/client-error';
import { defaultMaxConnections, limitServer, setServerLimits } from './http/server-limits';
import { logger } from './logger';
import { installOps } from './ops';
import { checkPipelineRules } from './policies/pipeline-rules';
import { destroyAgents } from './policies/proxy/agents';
import { closeRedis, redisClientFor } from './redis/client';
import { parseRedisTopology, type RedisTopology } from './redis/topology';
import { settingsOf, type PluginSettings } from './settings';
import { memoryStore } from './stores/memory-store';
import { RedisStore } from './stores/redis-store';
import type { BucketStore } from './stores/store';

let installed = false;
let current: { settings: PluginSettings; topology: RedisTopology } | undefined;
let redisStore: { client: unknown; timeoutMs: number; store: RedisStore } | undefined;

function installOnce(context: PluginContext): void {
  if (installed) return;
  assertSupportedExpressGateway();
  // Already done by `npm start`; a gateway started another way gets JSON from the plugin's load on.
  routeEgLogsToJson();
  installed = true;
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
  installOps(context, close);
  onGatewayServerCreated(limitServer);
}

/**
 * Takes the settings of this load (start-up or reload) and installs the process-wide parts the
 * first time. Throws, naming the setting, on settings that cannot work: EG then refuses the load.
 */
export function install(context: PluginContext): void {
  const settings = settingsOf(context.settings);
  const topology = parseRedisTopology(settings);
  checkPipelineRules(context.config.gatewayConfig);
  setServerLimits({
    maxConnections: settings.maxConnections ?? defaultMaxConnections(),
    headersTimeoutMs: settings.headersTimeoutMs,
    requestTimeoutMs: settings.requestTimeoutMs,
    keepAliveTimeoutMs: settings.keepAliveTimeoutMs,
  });
  installOnce(context);
  current = { settings, topology };
}

/** The bucket store the current settings name: in-process, or the process's Redis client. */
export function bucketStore(): BucketStore {
  if (current === undefined) throw new Error('the llm-gateway plugin was not initialised before its policies were built');
  const { settings, topology } = current;
  if (topology.kind === 'none') return memoryStore();
  const client = redisClientFor(topology);
  // One store per client and timeout: limiter steps of every pipeline share its batches.
  if (redisStore?.client !== client || redisStore.timeoutMs !== settings.redisCommandTimeoutMs) {
    redisStore = { client, timeoutMs: settings.redisCommandTimeoutMs, store: new RedisStore(client, settings.redisCommandTimeoutMs) };
  }
  return redisStore.store;
}

/** Closes what the process holds open toward others: Redis, the provider connection pools. */
async function close(): Promise<void> {
  await closeRedis().catch((error: unknown) => logger.warn({ err: error }, 'closing Redis failed'));
  destroyAgents();
}
