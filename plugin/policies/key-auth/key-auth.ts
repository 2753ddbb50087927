// plugin/policies/key-auth/key-auth.ts
// The factory: builds the key table once per config load (EG runs it again on every reload, which
// is how edits to `keys:` apply), and returns the middleware that does one SHA-256 and one Map
// lookup per request.

import type { NextFunction, RequestHandler, Response } from 'express';
import type { EgConfig, GatewayRequest } from '../../eg-types';
import { sendDetail } from '../../errors';
import { logger } from '../../logger';
import { MESSAGES } from '../../messages';
import { authFailures } from '../../metrics';
import { resolveOptions } from '../../options';
import { registerSecrets } from '../../secrets';
import { buildTable, prepareEntries, sha256Hex, type KeyRecord, type KeyTable } from './key-table';
import { keysFileSource, resolveKeysFile, type KeysFileSource } from './keys-file';
import { DEFAULTS, type FailureReason, type KeyAuthOptions } from './options';

export function keyAuth(params: Readonly<Record<string, unknown>>, config: EgConfig): RequestHandler {
  const options: KeyAuthOptions = resolveOptions(DEFAULTS, params);
  const inline = prepareEntries(options.keys, 'keys');
  const source: KeysFileSource | undefined = options.keysFile === '' ? undefined : keysFileSource(resolveKeysFile(options.keysFile));
  if (source !== undefined && !source.hasRecords) {
    throw new Error(`key-auth: keysFile "${options.keysFile}": ${source.lastError ?? 'no valid version could be read'}`);
  }

  const merge = (): KeyTable => (source === undefined ? buildTable(inline) : inline.length === 0 ? source.table : buildTable(inline, source.records));
  let table: KeyTable = merge();
  let generation = source?.generation ?? 0;
  warnUnknownEndpoints(table, config);
  if (table.size === 0) logger.warn({ code: 'WRN_KEY_AUTH_NO_KEYS' }, 'key-auth: no keys are declared; every request will get 401');

  /** Picks up a changed keysFile; a merge that fails (a duplicate with `keys`) keeps the old table. */
  function currentTable(): KeyTable {
    if (source !== undefined && source.generation !== generation) {
      generation = source.generation;
      try {
        table = merge();
      } catch (error: unknown) {
        logger.error({ err: error instanceof Error ? error.message : String(error) }, 'key-auth: the keysFile conflicts with keys; keeping the keys loaded before');
      }
    }
    return table;
  }

  const headerName = options.apiKeyHeader.toLowerCase();
  const field = options.apiKeyField;
  const metricKeyIds = options.metricKeyIds;

  function refuse(req: GatewayRequest, res: Response, reason: FailureReason, record: KeyRecord | undefined): void {
    authFailures.inc({ reason, key_id: metricKeyIds && record !== undefined ? record.id : '' });
    // The id is the operator's name for the key, not a secret; the key and its hash never appear.
    logger.debug({ reason, keyId: record?.id, apiEndpoint: req.egContext?.apiEndpoint?.apiEndpointName, requestId: req.egContext?.requestID }, 'key-auth: request refused');
    sendDetail(res, 401, MESSAGES.unauthorized);
  }

  const middleware = function keyAuthMiddleware(req: GatewayRequest, res: Response, next: NextFunction): void {
    let presented = req.headers[headerName];
    if (Array.isArray(presented)) presented = presented[0];
    if (presented !== undefined) delete req.headers[headerName];
    if (field !== '') {
      const fromQuery = takeQueryParam(req, field);
      if (presented === undefined || presented === '') presented = fromQuery;
    }
    if (presented === undefined || presented === '') return refuse(req, res, 'missing', undefined);

    // One hash and one Map lookup. Looking the hash up is not an early-exit comparison of the
    // secret: the Map compares SHA-256 digests, and learning how many leading characters of a
    // digest matched tells an attacker nothing about a key that hashes to it (preimage
    // resistance), so no timing-safe comparison is needed and the cost does not grow with the
    // number of keys.
    const record = currentTable().get(sha256Hex(presented));
    if (record === undefined) return refuse(req, res, 'unknown', undefined);
    if (record.disabled) return refuse(req, res, 'disabled', record);
    if (Date.now() >= record.expiresAtMs) return refuse(req, res, 'expired', record);
    if (record.apiEndpoints !== undefined && !record.apiEndpoints.has(req.egContext?.apiEndpoint?.apiEndpointName ?? '')) {
      return refuse(req, res, 'forbidden', record);
    }
    req.user = record.identity;
    next();
  };
  // Plain keys of this step, so that no provider message passed on can quote one; the keysFile
  // registers its own.
  registerSecrets(middleware, options.keys.flatMap((entry) => (entry.key === undefined ? [] : [String(entry.key)])));
  return middleware;
}

/** A scope naming an apiEndpoint that does not exist is most likely a typo that locks a key out. */
function warnUnknownEndpoints(table: KeyTable, config: EgConfig): void {
  const declared = new Set(Object.keys(config.gatewayConfig.apiEndpoints ?? {}));
  for (const record of table.values()) {
    const unknown = [...(record.apiEndpoints ?? [])].filter((name) => !declared.has(name));
    if (unknown.length > 0) {
      logger.warn({ code: 'WRN_KEY_AUTH_UNKNOWN_ENDPOINT', entry: record.origin, keyId: record.id, apiEndpoints: unknown }, 'key-auth: a key is scoped to apiEndpoints that are not declared');
    }
  }
}

/**
 * Reads and removes the query parameter `field`, from `req.url` (what the proxy forwards),
 * `req.originalUrl` (what access logs print) and `req.query`, so the key goes no further.
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
