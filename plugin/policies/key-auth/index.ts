// plugin/policies/key-auth/index.ts
// The policy as EG registers it. (Placeholder until the key-auth issue lands: lets every request through.)

import type { PolicyDefinition } from '../../eg-types';

export const keyAuthPolicy: PolicyDefinition = {
  name: 'key-auth',
  schema: { $id: 'http://express-gateway.io/schemas/policies/key-auth.json', type: 'object' },
  policy: () => function keyAuthPlaceholder(_req, _res, next) { next(); },
};
