// plugin/ops/ops-server.ts
// The ops listener: /metrics, /healthz and /readyz, and nothing else. It is the plugin's own
// server, apart from EG's admin API, which has no authentication and hands out the config it
// serves (keys included) and rewrites it on request: operators open the ops port to Prometheus
// and probes, and that must open nothing more. Its address comes from OPS_PORT and OPS_HOST,
// whatever gateway.config.yml says, and it starts once per process (EG re-runs `init` on reloads).

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { EgConfig } from '../eg/types';
import { detailBody } from '../errors';
import { logger } from '../logger';
import { MESSAGES } from '../messages';
import { registry } from '../metrics';
import { readiness, reasonOf } from './readiness';

const OPS_ENV = Object.freeze({ port: 'OPS_PORT', host: 'OPS_HOST' });
const DEFAULT_OPS_PORT = 9876;
const DEFAULT_OPS_HOST = '127.0.0.1';

/** Scrapers and probes need a handful of connections; a flood of them must not cost fds. */
const MAX_OPS_CONNECTIONS = 64;
const OPS_HEADERS_TIMEOUT_MS = 5_000;
const OPS_REQUEST_TIMEOUT_MS = 10_000;

interface OpsAddress {
  readonly port: number;
  readonly host: string;
}

/** Reads OPS_PORT and OPS_HOST; throws naming the variable when one cannot work. */
export function opsAddressFromEnv(env: Readonly<Record<string, string | undefined>>): OpsAddress {
  const rawPort = env[OPS_ENV.port]?.trim() || String(DEFAULT_OPS_PORT);
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port < 1 || port > 65535) throw new Error(`${OPS_ENV.port} must be a port between 1 and 65535`);
  const host = env[OPS_ENV.host]?.trim() || DEFAULT_OPS_HOST;
  return { port, host };
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const JSON_TYPE = 'application/json; charset=utf-8';
const sendJson = (res: ServerResponse, status: number, value: unknown): void => send(res, status, JSON_TYPE, JSON.stringify(value));
const sendDetailJson = (res: ServerResponse, status: number, detail: string, headers: Record<string, string> = {}): void =>
  send(res, status, JSON_TYPE, detailBody(detail), headers);

type Route = (res: ServerResponse) => void;

function routes(config: EgConfig): ReadonlyMap<string, Route> {
  return new Map<string, Route>([
    ['/metrics', (res) => {
      registry.metrics().then(
        (text) => send(res, 200, registry.contentType, text),
        (error: unknown) => sendDetailJson(res, 500, reasonOf(error)),
      );
    }],
    ['/healthz', (res) => sendJson(res, 200, { status: 'ok' })],
    ['/readyz', (res) => {
      readiness(config.gatewayConfig).then(
        ({ status, checks }) => sendJson(res, status === 'not ready' ? 503 : 200, { status, checks }),
        (error: unknown) => sendJson(res, 503, { status: 'not ready', checks: { readiness: reasonOf(error) } }),
      );
    }],
  ]);
}

function handler(config: EgConfig): (req: IncomingMessage, res: ServerResponse) => void {
  const table = routes(config);
  return function opsRequest(req, res) {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = table.get(path);
    if (route === undefined) {
      sendDetailJson(res, 404, MESSAGES.notFound);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendDetailJson(res, 405, MESSAGES.methodNotAllowed, { allow: 'GET, HEAD' });
      return;
    }
    route(res);
  };
}

/** Starts the ops listener; a port it cannot bind stops the process (the cause is logged). */
export function startOpsServer(config: EgConfig, address: OpsAddress): http.Server {
  const server = http.createServer(handler(config));
  server.maxConnections = MAX_OPS_CONNECTIONS;
  server.headersTimeout = OPS_HEADERS_TIMEOUT_MS;
  server.requestTimeout = OPS_REQUEST_TIMEOUT_MS;
  server.once('error', (error: NodeJS.ErrnoException) => {
    const message = `the ops listener cannot listen on ${address.host}:${address.port} (${OPS_ENV.host}:${OPS_ENV.port}): ${error.code ?? error.message}`;
    logger.fatal({ code: 'ERR_OPS_LISTEN' }, message);
    logger.flush();
    process.stderr.write(`llm-gateway: ${message}\n`);
    process.exit(1);
  });
  server.listen(address.port, address.host, () => {
    logger.info({ host: address.host, port: address.port }, 'ops listener serving /metrics, /healthz, /readyz');
  });
  return server;
}
