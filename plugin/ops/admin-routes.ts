// plugin/ops/admin-routes.ts
// /metrics, /healthz and /readyz on EG's admin server. EG mounts admin routes once, when the
// admin server starts, and calls `init` again on every reload: the routes are declared once.

import type { Application, Request, Response } from 'express';
import { readinessChecks } from '../health';
import { registry } from '../metrics';
import { opsState } from './state';

export const READINESS_CHECK_TIMEOUT_MS = 500;

function withTimeout(check: () => Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    check().then(
      () => { clearTimeout(timer); resolve(); },
      (error: unknown) => { clearTimeout(timer); reject(error); },
    );
  });
}

/** A short reason for a failed check; error messages of our checks name no secrets (no URLs with passwords). */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\/\/[^@/\s]*@/g, '//[redacted]@').slice(0, 200);
}

export async function readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const checks: Record<string, string> = { config: opsState.configLoaded ? 'ok' : 'ok (last reload rejected; the previous config serves)' };
  const entries = [...readinessChecks()];
  const results = await Promise.allSettled(entries.map(([, check]) => withTimeout(check, READINESS_CHECK_TIMEOUT_MS)));
  results.forEach((result, index) => {
    const name = entries[index]?.[0] ?? 'unknown';
    checks[name] = result.status === 'fulfilled' ? 'ok' : reasonOf(result.reason);
  });
  // A rejected reload leaves the old config serving: the gateway is still ready, the check says why.
  const ready = results.every((result) => result.status === 'fulfilled');
  return { ready, checks };
}

export function declareAdminRoutes(app: Application): void {
  app.get('/metrics', (_req: Request, res: Response) => {
    registry.metrics().then(
      (text) => { res.set('content-type', registry.contentType).send(text); },
      (error: unknown) => { res.status(500).type('text/plain').send(reasonOf(error)); },
    );
  });
  app.get('/healthz', (_req: Request, res: Response) => {
    res.status(200).json({ status: 'ok' });
  });
  app.get('/readyz', (_req: Request, res: Response) => {
    readiness().then(
      ({ ready, checks }) => { res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks }); },
      (error: unknown) => { res.status(503).json({ status: 'not ready', checks: { readiness: reasonOf(error) } }); },
    );
  });
}
