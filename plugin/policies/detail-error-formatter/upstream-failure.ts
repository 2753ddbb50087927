// plugin/policies/detail-error-formatter/upstream-failure.ts
// What a client is told when the provider fails. The seed promises 500 and clients written
// against it retry on 500, so that is the default; operators who want 502/504 opt in.

import type { ServerResponse } from 'node:http';
import { sendDetail } from '../../errors';
import { MESSAGES } from '../../messages';
import { formatterOptionsOf } from './request-options';

export type UpstreamFailureKind = 'unreachable' | 'timeout' | 'reset' | 'server-error' | 'misconfigured';

export function upstreamFailureStatus(res: ServerResponse, kind: UpstreamFailureKind): number {
  if (formatterOptionsOf(res).upstreamFailureStatus === 'internal-error') return 500;
  return kind === 'timeout' ? 504 : 502;
}

export function sendUpstreamFailure(res: ServerResponse, kind: UpstreamFailureKind): void {
  sendDetail(res, upstreamFailureStatus(res, kind), MESSAGES.internalError);
}
