// plugin/eg/admin-api.ts
// EG's admin REST API has no authentication: whoever reaches it reads the served config
// (`GET /pipelines` holds key-auth's keys as resolved from the environment) and rewrites it
// (`PUT /service-endpoints/...` sends live traffic, with our provider key, wherever it says). The
// shipped config does not start it. If an operator declares `admin:`, it must bind a loopback
// address, and its JSON answers have secret fields blanked.

import net from 'node:net';
import type { Server } from 'node:http';
import { appOfServer } from './app-of-server';
import type { GatewayConfig } from './types';

/** Fields that hold a secret in what the admin API serves (key-auth entries, the proxy, EG's own credentials). */
const SECRET_FIELDS: ReadonlySet<string> = new Set(['key', 'providerApiKey', 'keySecret', 'password', 'secret']);
const REDACTED = '[redacted]';

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost') return true;
  const family = net.isIPv4(bare) ? 'ipv4' : net.isIPv6(bare) ? 'ipv6' : undefined;
  return family !== undefined && LOOPBACK.check(bare, family);
}

/**
 * Throws when `admin:` would expose the admin API beyond this machine. EG binds `localhost` when
 * neither `host` nor its deprecated `hostname` is set.
 */
export function assertAdminOnLoopback(gatewayConfig: GatewayConfig): void {
  const admin = gatewayConfig.admin as { host?: unknown; hostname?: unknown; port?: unknown } | undefined | null;
  if (admin === undefined || admin === null || admin.port === undefined || admin.port === null) return;
  const field = admin.hostname !== undefined ? 'admin.hostname' : 'admin.host';
  const host = admin.hostname ?? admin.host ?? 'localhost';
  if (typeof host !== 'string' || !isLoopback(host.trim())) {
    throw new Error(`${field} must be a loopback address (127.0.0.1, ::1 or localhost): EG's admin API has no authentication and serves and rewrites the config. `
      + 'Metrics and health checks are on the ops listener (OPS_PORT, OPS_HOST); drop admin: unless you need the admin API');
  }
}

/** A copy of `value` with every secret field blanked. */
function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const copy: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) {
    copy[name] = SECRET_FIELDS.has(name) && typeof field === 'string' ? REDACTED : redactSecrets(field);
  }
  return copy;
}

const redactedApps = new WeakSet<object>();

/**
 * Blanks secret fields in every JSON answer of the admin app behind `adminServer`. EG's admin
 * routes answer with `res.json`; the app's own response prototype is patched, once.
 */
export function redactAdminAnswers(adminServer: Server): void {
  const app = appOfServer(adminServer);
  const response = (app as { response?: { json?: unknown } } | undefined)?.response;
  if (app === undefined || response === undefined || typeof response.json !== 'function') {
    throw new Error("EG's admin server has no Express app as its request listener: cannot redact its answers");
  }
  if (redactedApps.has(app)) return;
  redactedApps.add(app);
  const originalJson = response.json as (this: unknown, body?: unknown) => unknown;
  response.json = function jsonWithoutSecrets(this: unknown, body?: unknown) {
    return originalJson.call(this, redactSecrets(body));
  };
}
