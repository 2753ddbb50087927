// plugin/ops/reload-guard.ts
// Checks a changed gateway.config.yml before it replaces the config that serves. EG's watcher
// calls `loadConfig` and then emits 'hot-reload'; a candidate with an unknown policy makes EG's
// own rollback throw and leaves the gateway broken. Wrapping `loadConfig` on the config singleton
// lets every check run first: a refused candidate never replaces the old one, and the watcher
// swallows the throw (it only debug-logs), so the old config keeps serving.

import type { EventEmitter } from 'node:events';
import { onPipelineRebuild, withoutSourceExcerpt, wrapLoadConfig } from '../eg/reload-hooks';
import type { EgConfig } from '../eg/types';
import { logger } from '../logger';
import { configLoaded, configReloads } from '../metrics';
import { validateGatewayConfig } from './config-check';
import { opsState } from './state';

const guarded = new WeakSet<object>();

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function reject(type: string, reason: string): void {
  opsState.configLoaded = false;
  configLoaded.set(0);
  configReloads.inc({ result: 'rejected' });
  logger.error({ configType: type, reason: withoutSourceExcerpt(reason) }, 'config reload rejected; the previous config keeps serving');
}

/**
 * Wraps `config.loadConfig` once the gateway serves (boot-time loads are EG's own start-up
 * checks), and counts EG's own outcome of each reload from the 'hot-reload' event.
 */
export function installReloadGuard(config: EgConfig): void {
  if (guarded.has(config)) return;
  guarded.add(config);
  configLoaded.set(1);
  // The config the routers were built from: EG's rollback after a failed rebuild keeps the old
  // router but leaves the failed config on the singleton, where readiness and the 405 table read it.
  let serving = config.gatewayConfig;
  wrapLoadConfig(config, (load, type) => {
    const previous = { gatewayConfig: config.gatewayConfig, gatewayConfigPath: config.gatewayConfigPath };
    try {
      load(type);
      if (type === 'gateway') validateGatewayConfig(config.gatewayConfig);
    } catch (error: unknown) {
      config.gatewayConfig = previous.gatewayConfig;
      if (previous.gatewayConfigPath !== undefined) config.gatewayConfigPath = previous.gatewayConfigPath;
      reject(type, messageOf(error));
      throw error;
    }
  });
  // EG's 'hot-reload' listener (registered before ours, at boot) is async: its outcome is known
  // once its rebuild settles, which EG only logs.
  onPipelineRebuild({
    failed: (message) => {
      config.gatewayConfig = serving;
      reject('gateway', message);
    },
    applied: () => {
      serving = config.gatewayConfig;
      opsState.configLoaded = true;
      configLoaded.set(1);
      configReloads.inc({ result: 'applied' });
      logger.info('config reload applied');
    },
  });
}

/**
 * SIGHUP: read both config files again and apply them through the same checks as an edit EG's
 * watcher saw (the nginx/HAProxy convention). A refused config is logged and counted by the guard
 * and the serving one stays; the gateway never stops for it.
 */
export function reloadOnSignal(config: EgConfig, eventBus: EventEmitter): void {
  if (!guarded.has(config)) {
    logger.warn({ signal: 'SIGHUP' }, 'SIGHUP before the gateway serves: nothing to reload');
    return;
  }
  logger.info({ signal: 'SIGHUP' }, 'SIGHUP: re-reading gateway.config.yml and system.config.yml');
  try {
    config.loadConfig('system');
    config.loadConfig('gateway');
  } catch {
    return; // refused, logged and counted by the guard
  }
  eventBus.emit('hot-reload', { type: 'gateway', config });
}
