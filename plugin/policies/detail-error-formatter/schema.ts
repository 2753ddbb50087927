// plugin/policies/detail-error-formatter/schema.ts
// JSON schema of the formatter's action parameters (EG's ajv 6 compiles it; ours checks reloads).

import { DEFAULTS } from './options';
import { EG_STEP_PARAMS } from '../../eg/policy-registry';
import { onlyDeclared } from '../closed-params';

const properties = {
  upstreamFailureStatus: {
    type: 'string',
    enum: ['internal-error', 'gateway-error'],
    default: DEFAULTS.upstreamFailureStatus,
    description: 'internal-error: provider failures answer 500 with the seed message; gateway-error: 502, or 504 on a timeout',
  },
  maxErrorBodyBytes: {
    type: 'integer',
    minimum: 256,
    maximum: 1048576,
    default: DEFAULTS.maxErrorBodyBytes,
    description: 'Largest provider error body read to find its message (bytes, as received and decompressed); past it, a generic message',
  },
} as const;

export const schema = {
  $id: 'http://express-gateway.io/schemas/policies/detail-error-formatter.json',
  type: 'object',
  properties,
  propertyNames: onlyDeclared(properties, EG_STEP_PARAMS),
} as const;
