// plugin/policies/proxy/provider-route.ts
// Everything about the way to the provider that depends only on the config, settled once per
// config load: the target URL, its pooled agent, the header allowlists, the credential, the
// timeouts. A request then only copies headers and opens its exchange.

import http, { type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { EgConfig, GatewayRequest } from '../../eg/types';
import { logger } from '../../logger';
import { agentFor } from './agents';
import { isEventStream } from './event-stream';
import { allowlist, GATEWAY_RESPONSE_HEADERS, gatewayRequestHeaders, pickHeaders, REQUEST_HEADERS, RESPONSE_HEADERS } from './headers';
import { PROVIDER_KEY_ENV, type ProxyOptions } from './options';

export interface ProviderRoute {
  readonly target: URL;
  readonly agent: http.Agent;
  readonly request: typeof http.request;
  /** The target URL's path, without a trailing slash; the request's path is appended. */
  readonly basePath: string;
  readonly requestHeaders: ReadonlySet<string>;
  readonly responseHeaders: ReadonlySet<string>;
  /** Header name (lower case) and value of the provider credential; undefined without a key. */
  readonly credential: readonly [string, string] | undefined;
  readonly options: ProxyOptions;
}

function targetOf(options: ProxyOptions, config: EgConfig): URL {
  const endpoint = config.gatewayConfig.serviceEndpoints?.[options.serviceEndpoint];
  const url = endpoint?.url ?? endpoint?.urls?.[0];
  if (url === undefined) throw new Error(`proxy: serviceEndpoint "${options.serviceEndpoint}" is not declared under serviceEndpoints`);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new Error(`proxy: serviceEndpoint "${options.serviceEndpoint}" has an invalid url`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new Error(`proxy: serviceEndpoint "${options.serviceEndpoint}" must be an http or https url`);
  }
  return target;
}

export function buildRoute(options: ProxyOptions, config: EgConfig): ProviderRoute {
  const target = targetOf(options, config);
  const requestHeaders = allowlist(REQUEST_HEADERS, options.forwardRequestHeaders, gatewayRequestHeaders(options.providerKeyHeader));
  const responseHeaders = allowlist(RESPONSE_HEADERS, options.forwardResponseHeaders, GATEWAY_RESPONSE_HEADERS);
  for (const name of [...requestHeaders.refused, ...responseHeaders.refused]) {
    logger.warn({ code: 'WRN_PROXY_HEADER_NOT_FORWARDABLE', header: name }, `proxy: ${name} is the gateway's own to set and is never forwarded`);
  }
  const key = options.providerApiKey;
  if (key === '') logger.warn({ code: 'WRN_PROXY_NO_PROVIDER_KEY' }, `${PROVIDER_KEY_ENV} is not set: requests reach the provider without a key`);
  logger.info({
    serviceEndpoint: options.serviceEndpoint, provider: target.origin, connectTimeoutMs: options.connectTimeoutMs,
    firstByteTimeoutMs: options.firstByteTimeoutMs, idleTimeoutMs: options.idleTimeoutMs, totalTimeoutMs: options.totalTimeoutMs,
  }, 'proxy: provider and timeouts of this step');
  return Object.freeze({
    target,
    agent: agentFor(target),
    request: target.protocol === 'https:' ? https.request : http.request,
    basePath: target.pathname.replace(/\/+$/, ''),
    requestHeaders: requestHeaders.names,
    responseHeaders: responseHeaders.names,
    credential: key === '' ? undefined : [options.providerKeyHeader.toLowerCase(), options.providerKeyScheme === '' ? key : `${options.providerKeyScheme} ${key}`] as const,
    options,
  });
}

/**
 * The request to the provider: the allowlisted client headers, the credential, `identity`
 * encoding (event streams stay uncompressed end to end, error bodies readable), EG's request id;
 * `contentLength` when the whole body is known (a policy read it).
 */
export function openProviderRequest(route: ProviderRoute, req: GatewayRequest, path: string, contentLength: number | undefined): ClientRequest {
  const headers = pickHeaders(req.headers, route.requestHeaders);
  if (contentLength !== undefined) headers['content-length'] = String(contentLength);
  if (route.credential !== undefined) headers[route.credential[0]] = route.credential[1];
  headers['accept-encoding'] = 'identity';
  if (req.egContext?.requestID !== undefined) headers['eg-request-id'] = req.egContext.requestID;
  const { target } = route;
  return route.request({
    protocol: target.protocol, hostname: target.hostname, port: target.port,
    method: req.method, path: route.basePath + path, headers, agent: route.agent,
  });
}

export interface AnswerHead {
  readonly status: number;
  readonly headers: OutgoingHttpHeaders;
  readonly eventStream: boolean;
}

/**
 * The client's status line and headers for the provider's answer: the allowlisted headers; an
 * event stream also gets `no-cache` and `X-Accel-Buffering: no` (so nginx in front does not
 * buffer it either), and no length.
 */
export function answerHead(route: ProviderRoute, providerRes: IncomingMessage): AnswerHead {
  const headers = pickHeaders(providerRes.headers, route.responseHeaders);
  const eventStream = isEventStream(providerRes.headers['content-type']);
  if (eventStream) {
    headers['cache-control'] = 'no-cache';
    headers['x-accel-buffering'] = 'no';
    delete headers['content-length'];
  }
  return { status: providerRes.statusCode ?? 502, headers, eventStream };
}
