// plugin/policies/detail-error-formatter/index.ts
// The policy as EG registers it.

import type { PolicyDefinition } from '../../eg/types';
import { detailErrorFormatter } from './detail-error-formatter';
import { schema } from './schema';

export const detailErrorFormatterPolicy: PolicyDefinition = {
  name: 'detail-error-formatter',
  schema: schema as unknown as PolicyDefinition['schema'],
  policy: (params) => detailErrorFormatter(params),
};
