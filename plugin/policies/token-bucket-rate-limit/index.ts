// plugin/policies/token-bucket-rate-limit/index.ts
// The policy as EG registers it.

import type { PolicyDefinition } from '../../eg/types';
import { schema } from './schema';
import { tokenBucketRateLimit } from './token-bucket-rate-limit';

export const tokenBucketRateLimitPolicy: PolicyDefinition = {
  name: 'token-bucket-rate-limit',
  schema: schema as unknown as PolicyDefinition['schema'],
  policy: (params, config) => tokenBucketRateLimit(params, config),
};
