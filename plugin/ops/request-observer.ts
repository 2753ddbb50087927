// plugin/ops/request-observer.ts
// One JSON log line and the request metrics per request, seen at the server so that 404s and
// errors answered outside any pipeline count too. A prepended 'request' listener only attaches a
// 'close' hook: it does not wrap the app, so the catch-all can still find the app afterwards.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { GatewayRequest } from '../eg/types';
import { knownExchange } from '../http/exchange';
import { identityOf } from '../identity';
import { accessLogger } from '../logger';
import { httpRequestSeconds, httpRequests } from '../metrics';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const observed = new WeakSet<Server>();

/** A method label from a fixed set: anything a client invents becomes 'other'. */
function methodLabel(method: string | undefined): string {
  return method !== undefined && KNOWN_METHODS.has(method) ? method : 'other';
}

function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}

function onRequest(req: IncomingMessage, res: ServerResponse): void {
  const startedAt = process.hrtime.bigint();
  res.once('close', () => {
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    const gwReq = req as unknown as GatewayRequest;
    const pipeline = gwReq.egContext?.apiEndpoint?.apiEndpointName ?? 'none';
    const method = methodLabel(req.method);
    // A response closed before it was finished is counted by what the client was told so far.
    const status = res.statusCode;
    httpRequests.inc({ pipeline, method, status_class: res.writableFinished ? statusClass(status) : 'aborted' });
    httpRequestSeconds.observe({ pipeline }, seconds);
    const upstreamStatus = knownExchange(res)?.upstreamStatus;
    accessLogger.info({
      requestId: gwReq.egContext?.requestID,
      pipeline,
      method,
      keyId: identityOf(gwReq)?.id,
      status,
      completed: res.writableFinished,
      durationMs: Math.round(seconds * 1e4) / 10,
      upstreamStatus,
    }, 'request');
  });
}

/** Observes every request of `server`; a second call for the same server does nothing. */
export function observeRequests(server: Server): void {
  if (observed.has(server)) return;
  observed.add(server);
  server.prependListener('request', onRequest);
}
