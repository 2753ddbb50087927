// plugin/policies/proxy/headers.ts
// Which headers cross the gateway, in each direction: allowlists, turned into Sets once per config
// load. A header not named stays behind: a key holder cannot choose the organisation, project or
// credential we are billed under at the provider, and the provider's headers about our account
// (its rate limits, its cookies, its organisation) stay ours.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * What a chat request needs the provider to see. The body is forwarded byte for byte, so its
 * coding (a client may gzip a long prompt) travels with it.
 */
export const REQUEST_HEADERS: readonly string[] = Object.freeze(['content-type', 'content-length', 'content-encoding', 'accept', 'user-agent']);

/** What a client needs of the provider's answer: the body's framing, when to retry, which request it was. */
export const RESPONSE_HEADERS: readonly string[] = Object.freeze(['content-type', 'content-length', 'content-encoding', 'retry-after', 'retry-after-ms', 'x-request-id']);

/** RFC 9110 §7.6.1 connection-specific headers: never forwarded, whatever a list says. */
const HOP_BY_HOP: readonly string[] = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/**
 * Request headers the gateway sets itself: the provider's own Host, the provider credential,
 * `accept-encoding: identity`, EG's request id; `expect` was answered by the gateway's own server.
 */
export function gatewayRequestHeaders(providerKeyHeader: string): ReadonlySet<string> {
  return new Set([...HOP_BY_HOP, 'host', 'expect', 'accept-encoding', 'eg-request-id', providerKeyHeader.toLowerCase()]);
}

/** Response headers that describe the provider's connection, not its answer. */
export const GATEWAY_RESPONSE_HEADERS: ReadonlySet<string> = new Set(HOP_BY_HOP);

interface Allowlist {
  readonly names: ReadonlySet<string>;
  /** Names the configuration asked for that the gateway keeps to itself. */
  readonly refused: readonly string[];
}

/** The built-in names plus the configured ones, lower-cased, minus those the gateway owns. */
export function allowlist(builtIn: readonly string[], configured: readonly string[], owned: ReadonlySet<string>): Allowlist {
  const names = new Set(builtIn);
  const refused: string[] = [];
  for (const name of configured.map((n) => n.toLowerCase())) {
    if (owned.has(name)) refused.push(name);
    else names.add(name);
  }
  return { names, refused };
}

/** The allowed headers of `source`, less any its own Connection header marks as hop-by-hop. */
export function pickHeaders(source: IncomingHttpHeaders, allowed: ReadonlySet<string>): OutgoingHttpHeaders {
  const copy: OutgoingHttpHeaders = {};
  const connection = source.connection;
  const connectionListed = connection === undefined ? undefined : new Set(connection.toLowerCase().split(',').map((s) => s.trim()));
  for (const name of allowed) {
    const value = source[name];
    if (value === undefined || connectionListed?.has(name) === true) continue;
    copy[name] = value;
  }
  return copy;
}
