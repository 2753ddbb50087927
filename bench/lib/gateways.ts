// bench/lib/gateways.ts
// The gateways under comparison, each a child process on free ports: Express Gateway alone (core
// proxy; or core key-auth + core rate-limit on Redis + core proxy) and ours through the same
// start-up as `npm start` (testkit/gateway.ts).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { proxyStep, startGateway, step, type Gateway } from '../../testkit/gateway';
import { spawnJsonChild, type JsonChild } from '../../testkit/json-child';
import { freePorts } from '../../testkit/ports';

export const BENCH_API_KEY = 'bench-key-0123456789abcdef0123456789abcdef';

export interface RunningGateway {
  readonly url: string;
  readonly pid: number;
  readonly headers: Record<string, string>;
  /** What the gateway printed so far (stdout and stderr). */
  logs?(): string;
  stop(): Promise<void>;
}

const EG_SYSTEM_BASE = {
  crypto: { cipherKey: 'bench', algorithm: 'aes256', saltRounds: 10 },
  session: { secret: 'bench', resave: false, saveUninitialized: false },
  accessTokens: { timeToExpiry: 7200000 },
  refreshTokens: { timeToExpiry: 7200000 },
  authorizationCodes: { timeToExpiry: 300000 },
};

/**
 * EG without this plugin. `withAuthAndLimit`: core key-auth (credential created in EG's db on the
 * bench Redis) and core rate-limit on that Redis with `delayMs: 0` and a max nothing reaches.
 */
export async function startEgCore(providerUrl: string, redisPort: number | undefined): Promise<RunningGateway> {
  const [port, adminPort] = await freePorts(2) as [number, number];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-bench-eg-'));
  const withAuthAndLimit = redisPort !== undefined;
  const steps: Array<Record<string, unknown>> = [];
  if (withAuthAndLimit) {
    steps.push({ 'key-auth': null });
    steps.push({ 'rate-limit': [{ action: { max: 1_000_000_000, windowMs: 60_000, delayAfter: 0, delayMs: 0 } }] });
  }
  steps.push({ proxy: [{ action: { serviceEndpoint: 'llm-provider' } }] });
  fs.writeFileSync(path.join(dir, 'gateway.config.yml'), YAML.stringify({
    http: { port, hostname: '127.0.0.1' },
    admin: { port: adminPort, host: '127.0.0.1' },
    apiEndpoints: { chat: { host: '*', paths: ['/v1/chat', '/v1/chat/completions'], methods: ['POST'] } },
    serviceEndpoints: { 'llm-provider': { url: providerUrl } },
    policies: withAuthAndLimit ? ['key-auth', 'rate-limit', 'proxy'] : ['proxy'],
    pipelines: { chat: { apiEndpoints: ['chat'], policies: steps } },
  }));
  fs.writeFileSync(path.join(dir, 'system.config.yml'), YAML.stringify({
    db: { redis: withAuthAndLimit ? { emulate: false, host: '127.0.0.1', port: redisPort, namespace: 'EG' } : { emulate: true, namespace: 'EG' } },
    ...EG_SYSTEM_BASE,
  }));
  const script = path.join(__dirname, 'eg-core-process.js');
  const child: JsonChild = spawnJsonChild(script, [dir], { BENCH_CREATE_KEY: withAuthAndLimit ? '1' : '0', LOG_LEVEL: 'warn', NODE_ENV: 'production' });
  const stop = async (): Promise<void> => { await child.stop(); fs.rmSync(dir, { recursive: true, force: true }); };
  try {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (withAuthAndLimit) headers['Authorization'] = `apiKey ${(await child.next<{ apiKey: string }>('apiKey')).apiKey}`;
    await child.next('ready');
    return { url: `http://127.0.0.1:${port}/v1/chat`, pid: child.child.pid as number, headers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface OursOptions {
  readonly redisUrl: string | null;
  readonly profileFile?: string;
  readonly env?: Record<string, string>;
  /** LLM-token limits on (nothing refused): every request reserves, then settles on the usage. */
  readonly llmTokens?: boolean;
}

/** Our full pipeline: detail-error-formatter, key-auth, token-bucket-rate-limit (nothing refused), proxy. */
export async function startOurs(providerUrl: string, options: OursOptions): Promise<RunningGateway> {
  const env: Record<string, string> = { NODE_ENV: 'production', ...options.env };
  if (options.profileFile) {
    env['NODE_OPTIONS'] = `--require ${path.join(__dirname, 'profile-hook.js')}`;
    env['BENCH_PROFILE_FILE'] = options.profileFile;
  }
  const gateway: Gateway = await startGateway({
    providerUrl,
    steps: [
      step('detail-error-formatter'),
      step('key-auth', { keys: [{ id: 'bench', key: BENCH_API_KEY }] }),
      step('token-bucket-rate-limit', {
        capacity: 1_000_000_000, refillRate: 1_000_000_000,
        ...(options.llmTokens ? { llmTokens: { capacity: 1_000_000_000_000, refillRate: 1_000_000_000_000 } } : {}),
      }),
      proxyStep(),
    ],
    pluginSettings: { redis: options.redisUrl ?? '' },
    env,
  });
  return {
    url: `${gateway.url}/v1/chat`,
    pid: gateway.child.pid as number,
    headers: { 'Content-Type': 'application/json', 'X-API-Key': BENCH_API_KEY },
    logs: () => gateway.logs,
    stop: async () => { await gateway.stop(); },
  };
}
