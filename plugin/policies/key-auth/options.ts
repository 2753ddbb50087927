// plugin/policies/key-auth/options.ts
// Types and defaults of key-auth's action parameters; schema.ts takes its defaults from here.

import type { RateLimitPlan } from '../../identity';

/** One key as declared under `keys:` or in the keysFile. Exactly one of `key` and `sha256`. */
export interface KeyEntryInput {
  /** Name of the key: logged, put on `req.user`, never a secret. Unique across `keys` and `keysFile`. */
  readonly id: string;
  /** The key itself, normally `${SOME_ENV}` through EG's env substitution. Hashed at load. */
  readonly key?: string;
  /** Hex SHA-256 of the key: the config then holds no secret. */
  readonly sha256?: string;
  /** A disabled key is refused (reason `disabled`). Default false. */
  readonly disabled?: boolean;
  /** ISO 8601 date-time after which the key is refused (reason `expired`). Default: never. */
  readonly expiresAt?: string | Date;
  /** apiEndpoint names this key may call (reason `forbidden` elsewhere). Default: all. */
  readonly apiEndpoints?: readonly string[];
  /** This key's plan, read by token-bucket-rate-limit. Default: the limiter's own. */
  readonly rateLimit?: RateLimitPlan;
  /** Models this key may ask for (reason `model` otherwise). Default: any. */
  readonly models?: readonly string[];
}

export interface KeyAuthOptions {
  /** Keys declared in the action. Default none. */
  readonly keys: readonly KeyEntryInput[];
  /** YAML or JSON file of more entries, relative to the config directory; re-read when it changes. Default '' (none). */
  readonly keysFile: string;
  /** Request header carrying the key. Default `X-API-Key`. */
  readonly apiKeyHeader: string;
  /** Query-string parameter carrying the key; '' keeps keys out of URLs (the default: URLs end up in access logs). */
  readonly apiKeyField: string;
  /** Put the key id on `auth_failures_total` as `key_id` (ids only, never keys). Default false. */
  readonly metricKeyIds: boolean;
}

export const DEFAULTS: KeyAuthOptions = Object.freeze({
  keys: Object.freeze([]),
  keysFile: '',
  apiKeyHeader: 'X-API-Key',
  apiKeyField: '',
  metricKeyIds: false,
});

/** Reasons a request is refused: the metric's `reason` label and the log's, never the client's. */
export type FailureReason = 'missing' | 'unknown' | 'disabled' | 'expired' | 'forbidden' | 'model';
