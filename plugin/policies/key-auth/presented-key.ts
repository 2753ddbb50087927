// plugin/policies/key-auth/presented-key.ts
// The key a request presents, taken off the request as it is read: the header (and the
// `apiKeyField` query parameter, when configured) goes no further down the pipeline, so the
// provider never sees it and access logs never print it.

import type { GatewayRequest } from '../../eg/types';

/**
 * Reads and removes the query parameter `field`, from `req.url` (what the proxy forwards),
 * `req.originalUrl` (what access logs print) and `req.query`.
 */
function takeQueryParam(req: GatewayRequest, field: string): string | undefined {
  const queryStart = req.url.indexOf('?');
  if (queryStart === -1) return undefined;
  const search = new URLSearchParams(req.url.slice(queryStart + 1));
  if (!search.has(field)) return undefined;
  const value = search.get(field) ?? undefined;
  search.delete(field);
  const rest = search.toString();
  const rewrite = (url: string): string => {
    const start = url.indexOf('?');
    return start === -1 ? url : url.slice(0, start) + (rest === '' ? '' : `?${rest}`);
  };
  req.url = rewrite(req.url);
  req.originalUrl = rewrite(req.originalUrl);
  const query = req.query as Record<string, unknown> | undefined;
  if (query !== undefined && query !== null) delete query[field];
  return value;
}

/** The presented key (header first, then the query field), removed from the request; undefined for none. */
export function takePresentedKey(req: GatewayRequest, headerName: string, field: string): string | undefined {
  let presented = req.headers[headerName];
  if (Array.isArray(presented)) presented = presented[0];
  if (presented !== undefined) delete req.headers[headerName];
  if (field !== '') {
    const fromQuery = takeQueryParam(req, field);
    if (presented === undefined || presented === '') presented = fromQuery;
  }
  return presented === '' ? undefined : presented;
}
