// plugin/policies/key-auth/key-auth.ts
// The factory: builds the key table once per config load (EG runs it again on every reload, which
// is how edits to `keys:` apply), and returns the middleware that does one SHA-256 and one Map
// lookup per request.

import type { NextFunction, RequestHandler, Response } from 'express';
import type { EgConfig, GatewayRequest } from '../../eg/types';
import { sendDetail } from '../../errors';
import { chatBody } from '../../http/chat-body';
import { registerSecrets } from '../../http/secrets';
import { logger } from '../../logger';
import { MESSAGES } from '../../messages';
import { authFailures } from '../../metrics';
import { bodyLimitOf } from '../body-limit';
import { resolveOptions } from '../resolve-options';
import { prepareEntries, sha256Hex, type KeyRecord, type KeyTable } from './key-table';
import { keysFileSource } from './keys-file';
import { LiveKeyTable } from './live-table';
import { DEFAULTS, type FailureReason, type KeyAuthOptions } from './options';
import { takePresentedKey } from './presented-key';

export function keyAuth(params: Readonly<Record<string, unknown>>, config: EgConfig): RequestHandler {
  const options: KeyAuthOptions = resolveOptions(DEFAULTS, params);
  const source = options.keysFile === '' ? undefined : keysFileSource(options.keysFile);
  if (source !== undefined && !source.hasRecords) {
    throw new Error(`key-auth: keysFile "${options.keysFile}": ${source.lastError ?? 'no valid version could be read'}`);
  }
  const table = new LiveKeyTable(prepareEntries(options.keys, 'keys'), source);
  warnUnknownEndpoints(table.current(), config);
  if (table.current().size === 0) logger.warn({ code: 'WRN_KEY_AUTH_NO_KEYS' }, 'key-auth: no keys are declared; every request will get 401');

  const headerName = options.apiKeyHeader.toLowerCase();
  // The config this step was built from: the body limit of a request's pipeline is looked up in it.
  const gatewayConfig = config.gatewayConfig;
  const metricKeyIds = options.metricKeyIds;

  function refuse(req: GatewayRequest, res: Response, reason: FailureReason, record: KeyRecord | undefined): void {
    authFailures.inc({ reason, key_id: metricKeyIds && record !== undefined ? record.id : '' });
    // The id is the operator's name for the key, not a secret; the key and its hash never appear.
    logger.debug({ reason, keyId: record?.id, apiEndpoint: req.egContext?.apiEndpoint?.apiEndpointName, requestId: req.egContext?.requestID }, 'key-auth: request refused');
    sendDetail(res, 401, MESSAGES.unauthorized);
  }

  const middleware = function keyAuthMiddleware(req: GatewayRequest, res: Response, next: NextFunction): void {
    const presented = takePresentedKey(req, headerName, options.apiKeyField);
    if (presented === undefined) return refuse(req, res, 'missing', undefined);
    // One hash and one Map lookup. Looking the hash up is not an early-exit comparison of the
    // secret: the Map compares SHA-256 digests, and learning how many leading characters of a
    // digest matched tells an attacker nothing about a key that hashes to it (preimage
    // resistance), so no timing-safe comparison is needed and the cost does not grow with the
    // number of keys.
    const record = table.current().get(sha256Hex(presented));
    if (record === undefined) return refuse(req, res, 'unknown', undefined);
    if (record.disabled) return refuse(req, res, 'disabled', record);
    if (Date.now() >= record.expiresAtMs) return refuse(req, res, 'expired', record);
    if (record.apiEndpoints !== undefined && !record.apiEndpoints.has(req.egContext?.apiEndpoint?.apiEndpointName ?? '')) {
      return refuse(req, res, 'forbidden', record);
    }
    req.user = metricKeyIds ? record.labelledIdentity : record.identity;
    if (record.models === undefined) {
      next();
      return;
    }
    // A key limited to some models: the body says which one the request asks for.
    const models = record.models;
    void chatBody(req, res, bodyLimitOf(gatewayConfig, req.egContext?.apiEndpoint?.apiEndpointName)).then((body) => {
      if (body === undefined) return;
      const model = body.json['model'];
      if (typeof model === 'string' && models.has(model)) next();
      else refuse(req, res, 'model', record);
    });
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
