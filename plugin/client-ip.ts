// plugin/client-ip.ts
// Which client a request counts against when it carries no API key. By default the socket's
// address: X-Forwarded-For is whatever the client wrote. Only when the operator names trusted
// proxies (a hop count or CIDRs) is the header read, from the right, up to the first hop that is
// not trusted — entries left of it are the client's own say and are ignored.

import net from 'node:net';

export type TrustProxy = number | readonly string[];

export interface ClientIpOptions {
  readonly trustProxy: TrustProxy;
  /** IPv6 clients are grouped by this prefix length: one host gets a whole /64 from its ISP. */
  readonly ipv6Subnet: number;
}

export type ClientIpResolver = (socketAddress: string | undefined, forwardedFor: string | string[] | undefined) => string;

/** Builds the resolver once per config load (CIDRs parsed into a BlockList here, not per request). */
export function clientIpResolver(options: ClientIpOptions): ClientIpResolver {
  const group = (address: string): string => groupAddress(address, options.ipv6Subnet);
  if (typeof options.trustProxy === 'number') {
    const hops = options.trustProxy;
    if (hops === 0) return (socketAddress) => group(socketAddress ?? 'unknown');
    return (socketAddress, forwardedFor) => {
      const chain = [...forwardedList(forwardedFor), socketAddress ?? 'unknown'];
      return group(chain[Math.max(0, chain.length - 1 - hops)] ?? 'unknown');
    };
  }
  const trusted = new net.BlockList();
  for (const cidr of options.trustProxy) addCidr(trusted, cidr);
  const isTrusted = (address: string): boolean => {
    const normal = normalize(address);
    const family = net.isIPv6(normal) ? 'ipv6' : 'ipv4';
    return net.isIP(normal) !== 0 && trusted.check(normal, family);
  };
  return (socketAddress, forwardedFor) => {
    let client = socketAddress ?? 'unknown';
    if (!isTrusted(client)) return group(client);
    const entries = forwardedList(forwardedFor);
    for (let i = entries.length - 1; i >= 0; i -= 1) {
      client = entries[i] ?? client;
      if (!isTrusted(client)) break;
    }
    return group(client);
  };
}

/** Throws on a malformed CIDR, naming it (called at config load, so start-up stops on it). */
export function addCidr(list: net.BlockList, cidr: string): void {
  const [address = '', bits] = cidr.split('/');
  const family = net.isIPv6(address) ? 'ipv6' : net.isIPv4(address) ? 'ipv4' : undefined;
  if (family === undefined) throw new Error(`trustProxy: "${cidr}" is not an IP address or CIDR`);
  const prefix = bits === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv6' ? 128 : 32)) {
    throw new Error(`trustProxy: "${cidr}" has an invalid prefix length`);
  }
  list.addSubnet(address, prefix, family);
}

function forwardedList(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
}

/** `::ffff:10.0.0.1` is an IPv4 client on a dual-stack socket. */
function normalize(address: string): string {
  const unbracketed = address.startsWith('[') ? address.slice(1, address.indexOf(']')) : address;
  return unbracketed.toLowerCase().startsWith('::ffff:') && net.isIPv4(unbracketed.slice(7)) ? unbracketed.slice(7) : unbracketed;
}

export function groupAddress(address: string, ipv6Subnet: number): string {
  const normal = normalize(address);
  if (!net.isIPv6(normal) || ipv6Subnet >= 128) return normal;
  const hextets = expandIpv6(normal);
  let remaining = ipv6Subnet;
  const kept = hextets.map((hextet) => {
    const take = Math.max(0, Math.min(16, remaining));
    remaining -= take;
    return take === 16 ? hextet : take === 0 ? 0 : hextet & (0xffff << (16 - take)) & 0xffff;
  });
  return `${kept.map((h) => h.toString(16)).join(':')}/${ipv6Subnet}`;
}

function expandIpv6(address: string): number[] {
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  const [head = '', tail] = bare.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').flatMap((group) => {
    if (net.isIPv4(group)) {
      const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
      return [(a << 8) | b, (c << 8) | d];
    }
    return [parseInt(group, 16)];
  }));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}
