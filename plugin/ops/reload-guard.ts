// plugin/ops/reload-guard.ts
// Checks a changed gateway.config.yml before it replaces the config that serves. EG's watcher
// calls `loadConfig` and then emits 'hot-reload'; a candidate with an unknown policy makes EG's
// own rollback throw and leaves the gateway broken. Wrapping `loadConfig` on the config singleton
// lets every check run first: a refused candidate never replaces the old one, and the watcher
// swallows the throw (it only debug-logs), so the old config keeps serving.

import type { EventEmitter } from 'node:events';
import { assertAdminOnLoopback } from '../eg/admin-api';
import type { EgConfig, GatewayConfig } from '../eg-types';
import { logger } from '../logger';
import { configLoaded, configReloads } from '../metrics';
import { opsState } from './state';

interface EgPolicies {
  policies: Record<string, { schema?: { $id?: string } } | undefined>;
  load(names: string[]): void;
}
interface EgSchemas { validate(id: string, data: unknown): { isValid: boolean; error: string } }

type StepList = Array<Record<string, unknown> | null | undefined>;

const guarded = new WeakSet<object>();

function asArray<T>(value: T | T[] | undefined | null): T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** Throws an Error naming the field that is wrong; returns when the candidate could serve. */
export function validateGatewayConfig(candidate: GatewayConfig): void {
  const egPolicies = require('express-gateway/lib/policies') as EgPolicies;
  const schemas = require('express-gateway/lib/schemas') as EgSchemas;
  assertAdminOnLoopback(candidate);
  const declared = asArray(candidate.policies);
  // Core policies are registered lazily by name; EG would load them during the reload anyway.
  egPolicies.load(declared);
  for (const name of declared) {
    if (!egPolicies.policies[name]) throw new Error(`policies: "${name}" is neither a core policy nor one a loaded plugin provides`);
  }
  const serviceEndpoints = candidate.serviceEndpoints ?? {};
  const apiEndpoints = candidate.apiEndpoints ?? {};
  for (const [pipelineName, pipeline] of Object.entries(candidate.pipelines ?? {})) {
    const raw = pipeline as { apiEndpoints?: unknown; apiEndpoint?: unknown; policies?: unknown; policy?: unknown };
    for (const endpoint of asArray(raw.apiEndpoints ?? raw.apiEndpoint) as string[]) {
      if (!(endpoint in apiEndpoints)) throw new Error(`pipelines.${pipelineName}.apiEndpoints: "${endpoint}" is not declared in apiEndpoints`);
    }
    const steps = asArray(raw.policies ?? raw.policy) as StepList;
    steps.forEach((stepConfig, index) => {
      const where = `pipelines.${pipelineName}.policies[${index}]`;
      const name = Object.keys(stepConfig ?? {})[0];
      if (name === undefined) throw new Error(`${where}: empty step`);
      if (!declared.includes(name)) throw new Error(`${where}: "${name}" is not declared in policies`);
      const policy = egPolicies.policies[name];
      const schemaId = policy?.schema?.$id;
      asArray((stepConfig as Record<string, unknown>)[name] as Array<{ action?: unknown }> | { action?: unknown }).forEach((entry, entryIndex) => {
        const action = (entry?.action ?? {}) as Record<string, unknown>;
        // ajv applies defaults in place: validate a copy, never the config that will serve.
        if (schemaId !== undefined) {
          const { isValid, error } = schemas.validate(schemaId, structuredClone(action));
          if (!isValid) throw new Error(`${where}.${name}[${entryIndex}].action: ${name} params validation failed: ${error}`);
        }
        const serviceEndpoint = action['serviceEndpoint'];
        if (typeof serviceEndpoint === 'string' && !(serviceEndpoint in serviceEndpoints)) {
          throw new Error(`${where}.${name}[${entryIndex}].action.serviceEndpoint: "${serviceEndpoint}" is not declared in serviceEndpoints`);
        }
      });
    });
  }
}

function reject(type: string, reason: string): void {
  opsState.configLoaded = false;
  configLoaded.set(0);
  configReloads.inc({ result: 'rejected' });
  logger.error({ configType: type, reason }, 'config reload rejected; the previous config keeps serving');
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
  const original = config.loadConfig.bind(config);
  config.loadConfig = (type) => {
    if (type !== 'gateway') {
      try { original(type); } catch (error: unknown) { reject(type, error instanceof Error ? error.message : String(error)); throw error; }
      return;
    }
    const previous = { gatewayConfig: config.gatewayConfig, gatewayConfigPath: config.gatewayConfigPath };
    try {
      original(type);
      validateGatewayConfig(config.gatewayConfig);
    } catch (error: unknown) {
      config.gatewayConfig = previous.gatewayConfig;
      if (previous.gatewayConfigPath !== undefined) config.gatewayConfigPath = previous.gatewayConfigPath;
      reject(type, error instanceof Error ? error.message : String(error));
      throw error;
    }
  };
  // EG's 'hot-reload' listener (registered before this one, at boot) runs first and is async: its
  // outcome is known once its `pipelines.bootstrap` promise settles, which EG logs. The plugin
  // sees the failure through EG's gateway logger and the success otherwise.
  const egLog = require('express-gateway/lib/logger').gateway as { error: (...args: unknown[]) => unknown; info: (...args: unknown[]) => unknown };
  const egError = egLog.error.bind(egLog);
  const egInfo = egLog.info.bind(egLog);
  egLog.error = (...args: unknown[]) => {
    const message = typeof args[0] === 'string' ? args[0] : '';
    if (message.startsWith('Could not hot-reload')) {
      config.gatewayConfig = serving;
      reject('gateway', message);
    }
    return egError(...args);
  };
  egLog.info = (...args: unknown[]) => {
    if (args[0] === 'hot-reload config completed') {
      serving = config.gatewayConfig;
      opsState.configLoaded = true;
      configLoaded.set(1);
      configReloads.inc({ result: 'applied' });
      logger.info('config reload applied');
    }
    return egInfo(...args);
  };
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
