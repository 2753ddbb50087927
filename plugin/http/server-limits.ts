// plugin/http/server-limits.ts
// Bounds on what clients can hold open on the public listener: a cap on connections, and
// timeouts for sending headers, for sending a whole request, and for idling between requests.
// Without them a client holds a socket for as long as Node's defaults allow (a slowloris
// connection lived ~90 s: a 60 s header timeout checked every 30 s), and enough idle sockets
// exhaust the process's file descriptors, after which every new connection, /healthz and Redis
// included, fails.

import { listenWithBacklog } from '../eg/listen-backlog';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { gateConnections } from '../eg/connection-gate';
import { detailBody } from '../errors';
import { logger } from '../logger';
import { MESSAGES } from '../messages';
import { connectionsRefused, openConnections } from '../metrics';
import { openFileLimit } from './fd-limit';

/**
 * File descriptors kept for everything that is not a client connection: Redis (one per Cluster
 * primary), the ops listener and its scrapers, the keysFile, the config watcher, logs, libuv.
 */
const RESERVED_FDS = 256;

/** How often Node looks for connections past their header or request timeout. */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** How long a refused socket may stay open to read what the client sent before its answer. */
const REFUSED_SOCKET_LINGER_MS = 200;

/** Refused sockets lingering at once; past it a refusal closes at once, without an answer. */
const MAX_LINGERING_REFUSALS = 64;

/** At most one log line per this interval about refused connections (with the count). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Connections the kernel queues for the gateway to accept. Node's default of 511 is what arrives
 * in a moment the event loop is busy (a GC pause, a burst of new streams while thousands are
 * open); past it the kernel drops the handshake and the client retries 1, 3, 7 s later or gives
 * up (the bench's 5,000 streams: ~300 ECONNRESET, ~700 streams never answered). The kernel caps
 * it at net.core.somaxconn (4096 by default since Linux 5.4).
 */
const LISTEN_BACKLOG = 4096;

interface ServerLimits {
  readonly maxConnections: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
}

/**
 * The default cap: every admitted connection may hold a second descriptor, its request's
 * connection to the provider, so the cap is half of what the reserve leaves.
 */
export function defaultMaxConnections(fdLimit = openFileLimit()): number {
  return Math.max(1, Math.floor((fdLimit - RESERVED_FDS) / 2));
}

let limits: ServerLimits | undefined;
const servers = new Set<Server>();
function applyTimeouts(server: Server, current: ServerLimits): void {
  server.headersTimeout = current.headersTimeoutMs;
  server.requestTimeout = current.requestTimeoutMs;
  server.keepAliveTimeout = current.keepAliveTimeoutMs;
}

/** Sets the limits; servers already set up take the new timeouts and cap at once (a reload). */
export function setServerLimits(next: ServerLimits): void {
  limits = next;
  for (const server of servers) applyTimeouts(server, next);
}

let lingering = 0;
let refusedSinceLog = 0;
let lastRefusalLogAt = 0;

function logRefusal(): void {
  refusedSinceLog += 1;
  const now = Date.now();
  if (now - lastRefusalLogAt < REFUSAL_LOG_INTERVAL_MS) return;
  logger.warn({ code: 'WRN_CONNECTION_CAP', maxConnections: limits?.maxConnections, refused: refusedSinceLog }, 'connection cap reached: new connections are refused with 500');
  lastRefusalLogAt = now;
  refusedSinceLog = 0;
}

const REFUSAL = (() => {
  const body = detailBody(MESSAGES.internalError);
  return `HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${body.length}\r\n`
    + `retry-after: 1\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body.toString('utf8')}`;
})();

function refuse(socket: Socket, tls: boolean): void {
  connectionsRefused.inc();
  logRefusal();
  // No HTTP can be written before a TLS handshake, which is what the cap saves; and a flood of
  // refusals must not hold more descriptors than the reserve has.
  if (tls || lingering >= MAX_LINGERING_REFUSALS) {
    socket.destroy();
    return;
  }
  // The contract's answer for exhausted resources. The request is read and dropped for a moment
  // so that closing does not reset the connection before the client has read the answer.
  lingering += 1;
  socket.once('close', () => { lingering -= 1; });
  socket.on('error', () => socket.destroy());
  socket.resume();
  socket.end(REFUSAL);
  setTimeout(() => socket.destroy(), REFUSED_SOCKET_LINGER_MS).unref();
}

/** Sets up a server EG just created (before it listens): timeouts, the cap, the backlog, Expect handling. */
export function limitServer(server: Server, kind: 'http' | 'https'): void {
  if (servers.has(server)) return;
  if (limits === undefined) throw new Error('server limits are not set: the plugin did not initialise');
  servers.add(server);
  // Read when the server starts listening; the header and request timeouts are checked this often.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = TIMEOUT_CHECK_INTERVAL_MS;
  applyTimeouts(server, limits);
  listenWithBacklog(server, LISTEN_BACKLOG);
  gateConnections(server, {
    cap: () => limits?.maxConnections ?? Number.POSITIVE_INFINITY,
    refuse: (socket) => refuse(socket, kind === 'https'),
    opened: () => openConnections.inc(),
    closed: () => openConnections.dec(),
  });
  // With a listener here Node no longer answers `100 Continue` before any policy ran: the body
  // is invited only by the code that reads it, after key-auth and the limiter let it through.
  server.on('checkContinue', (req, res) => { server.emit('request', req, res); });
}
