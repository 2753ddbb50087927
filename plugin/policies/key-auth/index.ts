// plugin/policies/key-auth/index.ts
// The policy as EG registers it. It takes the core key-auth's name on purpose: while the plugin is
// loaded, every pipeline's `key-auth` is this one (X-API-Key, hashed keys, JSON 401).

import type { PolicyDefinition } from '../../eg/types';
import { keyAuth } from './key-auth';
import { schema } from './schema';

export const keyAuthPolicy: PolicyDefinition = {
  name: 'key-auth',
  schema: schema as unknown as PolicyDefinition['schema'],
  policy: (params, config) => keyAuth(params, config),
};
