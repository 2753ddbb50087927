// plugin/policies/key-auth/schema.ts
// JSON schema of key-auth's action parameters (EG's ajv 6 checks it at start-up and at every
// reload) and of one key entry, which the keysFile loader checks with the same rules.

import { DEFAULTS } from './options';
import { EG_STEP_PARAMS } from '../../eg/policy-registry';
import { onlyDeclared } from '../closed-params';
import { MAX_BUCKET_CAPACITY } from '../../stores/store';

const SHA256_PATTERN = '^[0-9a-fA-F]{64}$';

const positive = (description: string) => ({ type: 'number', exclusiveMinimum: 0, description });
const capacity = (description: string) => ({ ...positive(description), maximum: MAX_BUCKET_CAPACITY });

const tokenPlanProperties = {
  capacity: capacity('LLM tokens the key may spend at once'),
  refillRate: positive('LLM tokens added back per second'),
} as const;

const planProperties = {
  capacity: capacity('Bucket size (tokens)'),
  refillRate: positive('Tokens added per second'),
  llmTokens: {
    type: 'object',
    required: ['capacity', 'refillRate'],
    properties: tokenPlanProperties,
    propertyNames: onlyDeclared(tokenPlanProperties),
    description: "This key's LLM-token bucket, where the limiter has llmTokens",
  },
} as const;

const entryProperties = {
  id: { type: 'string', minLength: 1, description: 'Name of the key: logged and passed to later policies, never a secret' },
  key: { type: 'string', minLength: 1, description: 'The key itself (normally ${SOME_ENV}); hashed at load' },
  sha256: { type: 'string', pattern: SHA256_PATTERN, description: 'Hex SHA-256 of the key; the config then holds no secret' },
  disabled: { type: 'boolean', description: 'Refuse this key' },
  // EG reads YAML with js-yaml, which turns an unquoted `2027-01-01` into a Date: accept both,
  // and let the factory check that a string parses.
  expiresAt: { anyOf: [{ type: 'string', minLength: 1 }, { instanceof: 'Date' }], description: 'ISO 8601 date-time after which the key is refused' },
  apiEndpoints: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'apiEndpoint names this key may call; default all' },
  models: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Models this key may ask for (the body\'s "model"); default any' },
  rateLimit: {
    type: 'object',
    required: ['capacity', 'refillRate'],
    description: "This key's plan, read by token-bucket-rate-limit",
    properties: planProperties,
    propertyNames: onlyDeclared(planProperties),
  },
} as const;

/** One key entry. Closed (unknown fields are typos), and exactly one of `key` and `sha256`. */
export const keyEntrySchema = {
  type: 'object',
  required: ['id'],
  properties: entryProperties,
  propertyNames: onlyDeclared(entryProperties),
  oneOf: [
    { required: ['key'], not: { required: ['sha256'] } },
    { required: ['sha256'], not: { required: ['key'] } },
  ],
} as const;

const properties = {
  keys: { type: 'array', items: keyEntrySchema, default: [], description: 'Key entries: { id, key } or { id, sha256 }, with optional disabled, expiresAt, apiEndpoints, rateLimit' },
  keysFile: { type: 'string', default: DEFAULTS.keysFile, description: 'YAML or JSON file of more entries (relative to the config directory), re-read when it changes; empty for none' },
  apiKeyHeader: { type: 'string', minLength: 1, default: DEFAULTS.apiKeyHeader, description: 'Request header carrying the key' },
  apiKeyField: { type: 'string', default: DEFAULTS.apiKeyField, description: 'Query-string parameter carrying the key; empty (default) keeps keys out of URLs' },
  metricKeyIds: { type: 'boolean', default: DEFAULTS.metricKeyIds, description: 'Label auth_failures_total with the key id (ids only, never keys)' },
} as const;

export const schema = {
  $id: 'http://express-gateway.io/schemas/policies/key-auth.json',
  type: 'object',
  properties,
  propertyNames: onlyDeclared(properties, EG_STEP_PARAMS),
} as const;
