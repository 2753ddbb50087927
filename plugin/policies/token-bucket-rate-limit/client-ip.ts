// plugin/policies/token-bucket-rate-limit/client-ip.ts
// Which client a request counts against when it carries no API key. By default the socket's
// address: X-Forwarded-For is whatever the client wrote. Only when the operator names trusted
// proxies (a hop count or CIDRs) is the header read, from the right, up to the first hop that is
// not trusted, with proxy-addr, the library behind Express's own `trust proxy`.

import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';

export type TrustProxy = number | readonly string[];

type Trust = (address: string, hop: number) => boolean;

/** Compiled once per config load; throws naming a malformed CIDR (start-up stops on it). */
function compileTrust(trustProxy: TrustProxy): Trust {
  if (typeof trustProxy === 'number') return (_address, hop) => hop < trustProxy;
  try {
    return proxyaddr.compile([...trustProxy]);
  } catch (error: unknown) {
    throw new Error(`trustProxy: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * IPv6 clients are grouped by `prefix` bits (one host gets a whole /64 from its ISP, and would
 * otherwise have 2^64 buckets); an IPv4 client on a dual-stack socket is its IPv4 address.
 */
function groupAddress(address: string, prefix: number): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const ipv6 = parsed as ipaddr.IPv6;
  if (ipv6.isIPv4MappedAddress()) return ipv6.toIPv4Address().toString();
  if (prefix >= 128) return ipv6.toString();
  const bytes = ipv6.toByteArray().map((byte, index) => {
    const keep = Math.max(0, Math.min(8, prefix - index * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
  return `${ipaddr.fromByteArray(bytes).toString()}/${prefix}`;
}

/** Builds the resolver once per config load: the request → its client's (grouped) address. */
export function clientIpResolver(options: { readonly trustProxy: TrustProxy; readonly ipv6Subnet: number }): (req: IncomingMessage) => string {
  const trust = compileTrust(options.trustProxy);
  return (req) => groupAddress(proxyaddr(req, trust) ?? 'unknown', options.ipv6Subnet);
}
