// plugin/health.ts
// Readiness checks that parts of the plugin register (the Redis store registers a ping), read by
// the admin server's /readyz. Process-wide, keyed by name, so a reload replaces a check instead
// of adding another.

export type ReadinessCheck = () => Promise<void>;

const checks = new Map<string, ReadinessCheck>();

export function registerReadinessCheck(name: string, check: ReadinessCheck): void {
  checks.set(name, check);
}

export function unregisterReadinessCheck(name: string): void {
  checks.delete(name);
}

export function readinessChecks(): ReadonlyMap<string, ReadinessCheck> {
  return checks;
}
