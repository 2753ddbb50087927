// plugin/policies/token-bucket-rate-limit/index.ts
// The policy as EG registers it. (Placeholder until the rate-limit issue lands: lets every request through.)

import type { PolicyDefinition } from '../../eg-types';

export const tokenBucketRateLimitPolicy: PolicyDefinition = {
  name: 'token-bucket-rate-limit',
  schema: { $id: 'http://express-gateway.io/schemas/policies/token-bucket-rate-limit.json', type: 'object' },
  policy: () => function tokenBucketRateLimitPlaceholder(_req, _res, next) { next(); },
};
