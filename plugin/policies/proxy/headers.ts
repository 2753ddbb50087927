// plugin/policies/proxy/headers.ts
// Which headers cross the gateway in each direction. Lists are lower-cased once per config load.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * RFC 9110 §7.6.1 connection-specific headers, plus `host`, which is the provider's own, and
 * `expect`, which the gateway's own HTTP server has already answered with 100 Continue.
 */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'expect'];

export function headerSet(names: readonly string[], withHopByHop: boolean): ReadonlySet<string> {
  return new Set([...names.map((name) => name.toLowerCase()), ...(withHopByHop ? HOP_BY_HOP : [])]);
}

export function copyHeaders(source: IncomingHttpHeaders, dropped: ReadonlySet<string>): OutgoingHttpHeaders {
  const copy: OutgoingHttpHeaders = {};
  const connectionListed = typeof source.connection === 'string' ? source.connection.toLowerCase().split(',').map((s) => s.trim()) : [];
  for (const name in source) {
    if (dropped.has(name) || connectionListed.includes(name)) continue;
    const value = source[name];
    if (value !== undefined) copy[name] = value;
  }
  return copy;
}
