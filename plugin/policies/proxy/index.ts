// plugin/policies/proxy/index.ts
// The policy as EG registers it. It takes the core proxy's name on purpose: a pipeline that gives
// `proxy` only its serviceEndpoint then gets the provider key, timeouts and streaming rules.

import type { PolicyDefinition } from '../../eg/types';
import { providerProxy } from './proxy';
import { schema } from './schema';

export const proxyPolicy: PolicyDefinition = {
  name: 'proxy',
  schema: schema as unknown as PolicyDefinition['schema'],
  policy: (params, config) => providerProxy(params, config),
};
