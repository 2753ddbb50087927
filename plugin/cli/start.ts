// plugin/cli/start.ts
// `npm start`: runs Express Gateway with this plugin. The config directory is EG_CONFIG_DIR or the
// package root; without LLM_PROVIDER_URL a bundled demo provider answers on a local port. It
// refuses to run without the plugin, since EG alone would serve its core policies instead.

import path from 'node:path';
import { logger } from '../logger';
import { prepareEgConfig } from '../eg/config';
import { requirePluginOnLoad } from '../eg/plugin-loader';
import { routeEgLogsToJson } from '../eg/winston-json';
import manifest = require('../manifest');
import { startDemoProvider } from './demo-provider';
import { REDIS_ENV, redisTopologyFromEnv } from '../redis/topology';

const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

function fatal(message: string): never {
  logger.fatal(message);
  logger.flush();
  process.stderr.write(`llm-gateway: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  // Before anything of EG is required: its start-up lines must already be JSON.
  routeEgLogsToJson();
  const configDir = path.resolve(process.env['EG_CONFIG_DIR'] ?? PACKAGE_ROOT);
  // system.config.yml names the plugin through this variable: EG resolves a relative `package:`
  // against its own location, not the config file's, so an absolute path is the dependable form.
  process.env['LLM_GATEWAY_PLUGIN'] ??= path.resolve(__dirname, '..', 'manifest.js');

  // An empty value keeps EG's env substitution quiet: unset means in-process buckets.
  for (const name of [REDIS_ENV.redis, REDIS_ENV.redisClusterNodes, REDIS_ENV.redisSentinels]) process.env[name] ??= '';
  // Two Redis topologies at once is a deployment mistake: refuse it before EG boots, naming both.
  try {
    redisTopologyFromEnv(process.env);
  } catch (error: unknown) {
    fatal(error instanceof Error ? error.message : String(error));
  }

  if (!process.env['LLM_PROVIDER_URL']) {
    const demo = await startDemoProvider(Number(process.env['DEMO_PROVIDER_PORT'] ?? 0));
    process.env['LLM_PROVIDER_URL'] = demo.url;
    process.env['DEMO_API_KEY'] ??= 'demo-key';
    process.env['LLM_PROVIDER_API_KEY'] ??= 'demo-provider-key';
    demo.server.unref();
    logger.info({ url: demo.url }, 'LLM_PROVIDER_URL is not set: started the bundled demo provider');
  } else if (!process.env['DEMO_API_KEY']) {
    // The shipped config's demo key must not open a real provider to anyone who read the README.
    process.env['DEMO_API_KEY'] = `disabled-${require('node:crypto').randomBytes(32).toString('hex')}`;
  }

  let config;
  try {
    config = prepareEgConfig(configDir);
  } catch (error: unknown) {
    fatal(`cannot load the config in ${configDir}: ${error instanceof Error ? error.message : String(error)}`);
  }
  requirePluginOnLoad(manifest.policies);
  try {
    const gateway = require('express-gateway') as () => { load(dir: string): { run(): Promise<unknown> } };
    await gateway().load(configDir).run();
  } catch (error: unknown) {
    fatal(error instanceof Error ? error.message : String(error));
  }
  logger.info({ configDir, port: config.gatewayConfig.http?.port }, 'llm-gateway is running');
}

main().catch((error: unknown) => fatal(error instanceof Error ? error.message : String(error)));
