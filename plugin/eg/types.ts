// plugin/eg/types.ts
// The parts of Express Gateway 1.16 this plugin touches, typed here because EG's bundled
// index.d.ts lacks `settings`, `config` and `logger` on the plugin context and the second
// argument of a policy factory.

import type { EventEmitter } from 'node:events';
import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';

/** One entry of gateway.config.yml `apiEndpoints` as EG passes it to `req.egContext.apiEndpoint`. */
export interface ApiEndpointRoute {
  apiEndpointName: string;
  host?: string;
  paths?: string | string[];
  path?: string | string[];
  pathRegex?: string;
  methods?: string | string[];
}

export interface GatewayConfig {
  http?: { port?: number; hostname?: string };
  admin?: { port?: number; host?: string };
  apiEndpoints?: Record<string, ApiEndpointRoute | ApiEndpointRoute[]>;
  serviceEndpoints?: Record<string, { url?: string; urls?: string[] }>;
  policies?: string[];
  pipelines?: Record<string, { apiEndpoints?: string[]; policies?: Array<Record<string, unknown>> }>;
}

/** EG's process-wide config singleton (`express-gateway/lib/config`). */
export interface EgConfig {
  gatewayConfig: GatewayConfig;
  systemConfig: { plugins?: Record<string, Record<string, unknown>> };
  gatewayConfigPath?: string;
  systemConfigPath?: string;
  loadConfig(type: 'gateway' | 'system'): void;
  watch(): void;
  unwatch(): void;
}

interface EgContext {
  requestID: string;
  apiEndpoint?: ApiEndpointRoute;
  requestStream?: NodeJS.ReadableStream;
}

/** The request as EG's pipelines hand it to a policy. */
export type GatewayRequest = Request & { egContext?: EgContext; user?: unknown };

type PolicyFactory = (actionParams: Record<string, unknown>, config: EgConfig) => RequestHandler;

export interface PolicyDefinition {
  name: string;
  schema: Record<string, unknown> & { $id: string };
  policy: PolicyFactory;
}

export interface PluginContext {
  settings: Record<string, unknown>;
  config: EgConfig;
  eventBus: EventEmitter;
  registerPolicy(policy: PolicyDefinition): void;
  registerGatewayRoute(declaration: (app: Application) => void): void;
  registerAdminRoute(declaration: (app: Application) => void): void;
}

export interface PluginManifest {
  version: string;
  policies: string[];
  schema: Record<string, unknown> & { $id: string };
  init(context: PluginContext): void;
}

export type { NextFunction, Request, Response };
