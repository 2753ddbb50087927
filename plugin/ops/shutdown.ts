// plugin/ops/shutdown.ts
// Graceful shutdown on SIGTERM/SIGINT: stop accepting, let in-flight requests and open streams
// finish within SHUTDOWN_GRACE_MS (default 30 s), then cut what is left; close the config
// watcher, Redis and the provider connection pools; flush the log; exit 0. SIGHUP reloads the
// config instead (Node's default for it would end the process at once, without a drain).

import type { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import type { EgConfig } from '../eg/types';
import { logger } from '../logger';
import { reloadOnSignal } from './reload-guard';
import { opsState } from './state';

const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

function graceMs(): number {
  const value = Number(process.env['SHUTDOWN_GRACE_MS']);
  return Number.isFinite(value) && value >= 0 ? value : DEFAULT_SHUTDOWN_GRACE_MS;
}

/** Remembers a server EG started, so shutdown can close it. */
export function trackServer(server: Server): void {
  opsState.servers.add(server);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) { resolve(); return; }
    server.close(() => resolve());
    // Keep-alive connections with no request in flight would hold close() open until they time out.
    server.closeIdleConnections();
    // A connection that finishes its request while draining closes rather than idling.
    server.on('request', (_req, res) => { res.setHeader('connection', 'close'); });
  });
}

async function shutdown(config: EgConfig, signal: string, closeResources: () => Promise<void>): Promise<void> {
  if (opsState.shuttingDown) return;
  opsState.shuttingDown = true;
  const grace = graceMs();
  logger.info({ signal, graceMs: grace }, 'shutting down: no new connections, draining in-flight requests');
  const servers = [...opsState.servers];
  const deadline = setTimeout(() => {
    logger.warn({ graceMs: grace }, 'grace period over: closing the remaining connections');
    for (const server of servers) server.closeAllConnections();
  }, grace);
  // Idle sockets that turn idle during the drain are closed as they appear.
  const idleSweep = setInterval(() => { for (const server of servers) server.closeIdleConnections(); }, 100);
  try { config.unwatch(); } catch (error: unknown) { logger.warn({ err: error }, 'closing the config watcher failed'); }
  await Promise.all(servers.map((server) => closeServer(server)));
  clearTimeout(deadline);
  clearInterval(idleSweep);
  await closeResources();
  logger.info('shutdown complete');
  logger.flush();
  // pino's async destination writes on the next ticks; exit once it drained.
  setImmediate(() => process.exit(0));
}

let signalsInstalled = false;

/** `closeResources` closes what the process holds toward others (Redis, provider pools). */
export function installSignalHandlers(config: EgConfig, eventBus: EventEmitter, closeResources: () => Promise<void>): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  process.on('SIGHUP', () => {
    if (!opsState.shuttingDown) reloadOnSignal(config, eventBus);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (opsState.shuttingDown) {
        logger.warn({ signal }, 'second signal during shutdown: exiting now');
        logger.flush();
        process.exit(1);
      }
      shutdown(config, signal, closeResources).catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        logger.flush();
        process.exit(1);
      });
    });
  }
}
