// plugin/ops/readiness.ts
// What /readyz answers. Each registered check (the Redis store registers one) gets a bounded
// time. A failing Redis makes the gateway unready only if some limiter would then refuse
// requests (failureMode closed, the default): when every limiter fails open, each instance can
// still serve, and taking them all out of rotation at once for a slow shared Redis would turn a
// degraded limit into an outage. The body then says "degraded" and why.

import type { GatewayConfig } from '../eg/types';
import { opsState } from './state';

const READINESS_CHECK_TIMEOUT_MS = 500;

type ReadinessCheck = () => Promise<void>;

/** Checks that parts of the plugin register (the Redis client registers a ping), keyed by name so a reload replaces one. */
const checks = new Map<string, ReadinessCheck>();

export function registerReadinessCheck(name: string, check: ReadinessCheck): void {
  checks.set(name, check);
}

export function unregisterReadinessCheck(name: string): void {
  checks.delete(name);
}

type ReadinessStatus = 'ready' | 'degraded' | 'not ready';

interface Readiness {
  readonly status: ReadinessStatus;
  readonly checks: Record<string, string>;
}

const RATE_LIMIT_POLICY = 'token-bucket-rate-limit';

function withTimeout(check: () => Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    check().then(
      () => { clearTimeout(timer); resolve(); },
      (error: unknown) => { clearTimeout(timer); reject(error); },
    );
  });
}

/** A short reason for a failed check; URLs lose their credentials. */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\/\/[^@/\s]*@/g, '//[redacted]@').slice(0, 200);
}

const failsClosedCache = new WeakMap<GatewayConfig, boolean>();

/** True when some rate-limit step of the serving config refuses requests while its store fails. */
function someLimiterFailsClosed(gatewayConfig: GatewayConfig): boolean {
  const cached = failsClosedCache.get(gatewayConfig);
  if (cached !== undefined) return cached;
  let closed = false;
  for (const pipeline of Object.values(gatewayConfig.pipelines ?? {})) {
    for (const stepConfig of pipeline?.policies ?? []) {
      if (stepConfig === null || typeof stepConfig !== 'object' || !(RATE_LIMIT_POLICY in stepConfig)) continue;
      const entries = stepConfig[RATE_LIMIT_POLICY];
      for (const entry of Array.isArray(entries) ? entries : [entries]) {
        const mode = (entry as { action?: { failureMode?: unknown } } | null | undefined)?.action?.failureMode;
        if (mode !== 'open') closed = true;
      }
    }
  }
  failsClosedCache.set(gatewayConfig, closed);
  return closed;
}

export async function readiness(gatewayConfig: GatewayConfig): Promise<Readiness> {
  const results: Record<string, string> = { config: opsState.configLoaded ? 'ok' : 'ok (last reload rejected; the previous config serves)' };
  const entries = [...checks];
  const settled = await Promise.allSettled(entries.map(([, check]) => withTimeout(check, READINESS_CHECK_TIMEOUT_MS)));
  let failed = false;
  settled.forEach((result, index) => {
    const name = entries[index]?.[0] ?? 'unknown';
    if (result.status === 'fulfilled') {
      results[name] = 'ok';
      return;
    }
    failed = true;
    results[name] = reasonOf(result.reason);
  });
  // A rejected reload leaves the old config serving: the gateway is still ready, the check says why.
  if (!failed) return { status: 'ready', checks: results };
  if (someLimiterFailsClosed(gatewayConfig)) return { status: 'not ready', checks: results };
  for (const [name] of entries) if (results[name] !== 'ok') results[name] = `degraded (every limiter fails open): ${results[name]}`;
  return { status: 'degraded', checks: results };
}
