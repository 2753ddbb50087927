// plugin/policies/token-bucket-rate-limit/schema.ts
// JSON schema of the rate limiter's action parameters (EG's ajv 6: defaults applied, types coerced,
// so `${RATE_LIMIT_CAPACITY:-10}` from the environment arrives as a number).

import { DEFAULTS, LLM_TOKEN_DEFAULTS } from './options';
import { EG_STEP_PARAMS } from '../../eg/policy-registry';
import { onlyDeclared } from '../closed-params';
import { MAX_BUCKET_CAPACITY } from '../../stores/store';

const positive = (description: string) => ({ type: 'number', exclusiveMinimum: 0, description });
const capacity = (description: string) => ({ ...positive(description), maximum: MAX_BUCKET_CAPACITY });

const llmTokenProperties = {
  capacity: capacity('LLM tokens a client may spend at once'),
  refillRate: positive('LLM tokens added back per second'),
  count: { type: 'string', enum: ['total', 'input', 'output'], default: LLM_TOKEN_DEFAULTS.count, description: 'Which usage is charged' },
  defaultMaxTokens: { type: 'integer', minimum: 1, default: LLM_TOKEN_DEFAULTS.defaultMaxTokens, description: 'Output estimate when a request names no max_tokens' },
} as const;

const properties = {
  capacity: { type: 'integer', minimum: 1, maximum: MAX_BUCKET_CAPACITY, description: 'Bucket size: the burst a client may send at once' },
  refillRate: { type: 'number', exclusiveMinimum: 0, description: 'Tokens added back per second (may be fractional)' },
  rateLimitBy: { type: 'string', enum: ['key-or-ip', 'key', 'ip'], default: DEFAULTS.rateLimitBy, description: 'Whose bucket: key id, else client IP; or only key; or only IP' },
  cost: { type: 'number', exclusiveMinimum: 0, default: DEFAULTS.cost, description: 'Tokens one request takes' },
  failureMode: { type: 'string', enum: ['closed', 'open'], default: DEFAULTS.failureMode, description: 'When the store fails: closed answers 500, open lets requests through' },
  headers: { type: 'boolean', default: DEFAULTS.headers, description: "Send RateLimit-Policy, RateLimit and OpenAI's x-ratelimit-* on every response" },
  policyName: { type: 'string', pattern: '^[a-z*][a-z0-9_.*-]*$', default: DEFAULTS.policyName, description: 'Quota name in the RateLimit fields and namespace of its buckets' },
  trustProxy: {
    anyOf: [{ type: 'integer', minimum: 0 }, { type: 'array', items: { type: 'string' } }],
    default: DEFAULTS.trustProxy,
    description: 'Trusted proxies in front of the gateway: hop count or CIDR list',
  },
  ipv6Subnet: { type: 'integer', minimum: 1, maximum: 128, default: DEFAULTS.ipv6Subnet, description: 'Prefix length grouping IPv6 clients' },
  llmTokens: {
    type: 'object',
    required: ['capacity', 'refillRate'],
    properties: llmTokenProperties,
    propertyNames: onlyDeclared(llmTokenProperties),
    description: 'LLM-token bucket beside the request bucket (off unless given): capacity, refillRate, count, defaultMaxTokens',
  },
} as const;

export const schema = {
  $id: 'http://express-gateway.io/schemas/policies/token-bucket-rate-limit.json',
  type: 'object',
  required: ['capacity', 'refillRate'],
  properties,
  propertyNames: onlyDeclared(properties, EG_STEP_PARAMS),
} as const;
