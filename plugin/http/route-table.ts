// plugin/http/route-table.ts
// Which methods gateway.config.yml allows on a path, so that a wrong method on a known path gets
// 405 with `Allow` instead of EG's 404. Built once per loaded gateway config (a reload replaces
// the config object, and with it the cache entry), never per request.

import pathToRegexp from 'path-to-regexp';
import type { ApiEndpointRoute, GatewayConfig } from '../eg/types';

interface RouteMatcher {
  host: string | RegExp | undefined;
  pattern: RegExp;
  methods: readonly string[] | 'all';
}

const tables = new WeakMap<object, readonly RouteMatcher[]>();

function buildTable(gatewayConfig: GatewayConfig): readonly RouteMatcher[] {
  const matchers: RouteMatcher[] = [];
  for (const declared of Object.values(gatewayConfig.apiEndpoints ?? {})) {
    for (const route of Array.isArray(declared) ? declared : [declared]) {
      matchers.push(...matchersFor(route));
    }
  }
  return matchers;
}

function matchersFor(route: ApiEndpointRoute & { hostRegex?: string }): RouteMatcher[] {
  const host = route.hostRegex !== undefined ? new RegExp(route.hostRegex) : (route.host === '*' ? undefined : route.host);
  const methods = parseMethods(route.methods);
  if (route.pathRegex !== undefined) return [{ host, pattern: new RegExp(route.pathRegex), methods }];
  const paths = route.paths ?? route.path ?? '*';
  return (Array.isArray(paths) ? paths : [paths]).map((path) => ({
    host,
    pattern: pathToRegexp(path, [], { end: true, strict: false, sensitive: false }),
    methods,
  }));
}

function parseMethods(methods: string | string[] | undefined): readonly string[] | 'all' {
  if (methods === undefined || methods === '*') return 'all';
  const list = (Array.isArray(methods) ? methods : methods.split(',')).map((m) => m.trim().toUpperCase()).filter(Boolean);
  return list.length === 0 ? 'all' : list;
}

function hostMatches(expected: string | RegExp | undefined, hostname: string): boolean {
  if (expected === undefined) return true;
  return typeof expected === 'string' ? expected === hostname : expected.test(hostname);
}

/** The methods allowed on `path`, or undefined when no apiEndpoint declares the path at all. */
export function allowedMethods(gatewayConfig: GatewayConfig, hostname: string, path: string): readonly string[] | undefined {
  let table = tables.get(gatewayConfig);
  if (!table) {
    table = buildTable(gatewayConfig);
    tables.set(gatewayConfig, table);
  }
  const allowed = new Set<string>();
  for (const matcher of table) {
    if (!hostMatches(matcher.host, hostname) || !matcher.pattern.test(path)) continue;
    if (matcher.methods === 'all') return undefined;
    for (const method of matcher.methods) allowed.add(method);
  }
  return allowed.size === 0 ? undefined : [...allowed].sort();
}
