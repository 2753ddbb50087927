// testkit/gateway.ts
// Boots the real gateway (`dist/plugin/cli/start.js`, what `npm start` runs) as a child process
// on free ports, with its own temporary config directory. A child process per gateway because
// EG's config is a process-wide singleton, and because reload and signal tests need real files
// and real processes.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePorts } from './ports';
import { sleep } from './wait';

/** The repository root, from dist/testkit/. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const START_SCRIPT = path.join(REPO_ROOT, 'dist', 'plugin', 'cli', 'start.js');
export const MANIFEST = path.join(REPO_ROOT, 'dist', 'plugin', 'manifest.js');

export type PipelineStep = Record<string, null | Array<{ action?: Record<string, unknown>; condition?: Record<string, unknown> }>>;

/** One pipeline step: `step('key-auth', { keys: [...] })`. */
export function step(name: string, action?: Record<string, unknown>): PipelineStep {
  return { [name]: action === undefined ? null : [{ action }] };
}

export const proxyStep = (action: Record<string, unknown> = {}): PipelineStep =>
  step('proxy', { serviceEndpoint: 'llm-provider', ...action });

export interface GatewayConfigInput {
  port: number;
  providerUrl: string;
  steps: PipelineStep[];
  /** Extra top-level declared policy names (e.g. a core policy only some pipeline uses). */
  extraPolicies?: string[];
}

export function buildGatewayConfig(input: GatewayConfigInput): Record<string, unknown> {
  const names = [...new Set([...input.steps.map((s) => Object.keys(s)[0] as string), ...(input.extraPolicies ?? [])])];
  return {
    http: { port: input.port, hostname: '127.0.0.1' },
    apiEndpoints: {
      chat: { host: '*', paths: ['/v1/chat', '/v1/chat/completions'], methods: ['POST'] },
    },
    serviceEndpoints: { 'llm-provider': { url: input.providerUrl } },
    policies: names,
    pipelines: { chat: { apiEndpoints: ['chat'], policies: input.steps } },
  };
}

export function buildSystemConfig(pluginSettings: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    db: { redis: { emulate: true, namespace: 'EG' } },
    crypto: { cipherKey: 'test', algorithm: 'aes256', saltRounds: 10 },
    session: { secret: 'test', resave: false, saveUninitialized: false },
    accessTokens: { timeToExpiry: 7200000 },
    refreshTokens: { timeToExpiry: 7200000 },
    authorizationCodes: { timeToExpiry: 300000 },
    plugins: { 'llm-gateway': { package: MANIFEST, ...pluginSettings } },
  };
}

/** The public port, and the ops listener's (OPS_PORT: /metrics, /healthz, /readyz). */
export interface GatewayPorts {
  port: number;
  opsPort: number;
}

export interface StartOptions {
  providerUrl: string;
  steps?: PipelineStep[];
  /** A whole gateway config instead of one built from `steps`; ports are filled in. */
  gatewayConfig?: (ports: GatewayPorts) => Record<string, unknown> | string;
  systemConfig?: Record<string, unknown> | string;
  pluginSettings?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  /** Files written into the config directory before start (name → content). */
  files?: Record<string, string>;
  /** Resolve once the process exited instead of once it serves (start-up failure tests). */
  expectExit?: boolean;
  readyTimeoutMs?: number;
  /** The ops listener's port, when something must know it before the gateway starts (a free one by default). */
  opsPort?: number;
  /** Runs the gateway under `ulimit -n <fdLimit>`, as a host with that limit would. */
  fdLimit?: number;
}

/** Variables of the developer's shell that would change what the gateway under test does. */
const SCRUBBED_ENV = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'LLM_PROVIDER_URL', 'LLM_PROVIDER_API_KEY', 'DEMO_API_KEY', 'EG_CONFIG_DIR', 'LLM_GATEWAY_PLUGIN', 'PORT', 'ADMIN_PORT', 'ADMIN_HOST', 'OPS_PORT', 'OPS_HOST', 'NODE_OPTIONS', 'EG_DISABLE_CONFIG_WATCH'];

export class Gateway {
  private output = '';
  private stdoutOnly = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly opsPort: number,
    readonly configDir: string,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.output += text;
      this.stdoutOnly += text;
    });
    child.stderr?.on('data', (chunk: Buffer) => { this.output += chunk.toString('utf8'); });
    this.exited = new Promise((resolve) => child.on('exit', (code) => { this.exitCode = code; resolve(code); }));
  }

  get url(): string { return `http://127.0.0.1:${this.port}`; }
  get opsUrl(): string { return `http://127.0.0.1:${this.opsPort}`; }
  /** stdout and stderr, interleaved as they arrived. */
  get logs(): string { return this.output; }
  /** What the process wrote to stdout alone (the log stream a shipper reads). */
  get stdout(): string { return this.stdoutOnly; }
  get hasExited(): boolean { return this.exitCode !== undefined; }

  waitForExit(): Promise<number | null> { return this.exited; }

  /** Rewrites gateway.config.yml in place, as an operator's editor would; EG's watcher reloads it. */
  writeGatewayConfig(config: Record<string, unknown> | string): void {
    const text = typeof config === 'string' ? config : YAML.stringify(config);
    fs.writeFileSync(path.join(this.configDir, 'gateway.config.yml'), text);
  }

  writeFile(name: string, content: string): void {
    fs.writeFileSync(path.join(this.configDir, name), content);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.hasExited) {
      this.child.kill(signal);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.configDir, { recursive: true, force: true });
    return this.exitCode ?? null;
  }
}

export async function startGateway(options: StartOptions): Promise<Gateway> {
  const free = await freePorts(3);
  const opsPort = options.opsPort ?? (free[0] as number);
  const port = free.find((candidate) => candidate !== opsPort) as number;
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-gateway-test-'));
  const gatewayConfig = options.gatewayConfig
    ? options.gatewayConfig({ port, opsPort })
    : buildGatewayConfig({ port, providerUrl: options.providerUrl, steps: options.steps ?? [step('detail-error-formatter'), proxyStep()] });
  fs.writeFileSync(path.join(configDir, 'gateway.config.yml'), typeof gatewayConfig === 'string' ? gatewayConfig : YAML.stringify(gatewayConfig));
  const systemConfig = options.systemConfig ?? buildSystemConfig(options.pluginSettings);
  fs.writeFileSync(path.join(configDir, 'system.config.yml'), typeof systemConfig === 'string' ? systemConfig : YAML.stringify(systemConfig));
  for (const [name, content] of Object.entries(options.files ?? {})) fs.writeFileSync(path.join(configDir, name), content);

  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined && !SCRUBBED_ENV.includes(name)) env[name] = value;
  Object.assign(env, {
    EG_CONFIG_DIR: configDir, LLM_PROVIDER_URL: options.providerUrl, PORT: String(port), OPS_PORT: String(opsPort),
    LOG_LEVEL: 'info', NODE_ENV: 'test',
  });
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }

  const command = options.fdLimit === undefined
    ? [process.execPath, START_SCRIPT]
    : ['/bin/sh', '-c', `ulimit -n ${options.fdLimit} && exec "$0" "$@"`, process.execPath, START_SCRIPT];
  const child = spawn(command[0] as string, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const gateway = new Gateway(child, port, opsPort, configDir);
  if (options.expectExit) {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.readyTimeoutMs ?? 20_000);
    await gateway.waitForExit();
    clearTimeout(timer);
    return gateway;
  }
  await waitUntilServing(gateway, options.readyTimeoutMs ?? 20_000);
  return gateway;
}

async function waitUntilServing(gateway: Gateway, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gateway.hasExited) {
      await gateway.stop();
      throw new Error(`gateway exited during start-up:\n${gateway.logs}`);
    }
    try {
      await fetch(`${gateway.url}/__gateway_test_probe`);
      return;
    } catch {
      await sleep(50);
    }
  }
  await gateway.stop('SIGKILL');
  throw new Error(`gateway did not serve within ${timeoutMs} ms:\n${gateway.logs}`);
}
