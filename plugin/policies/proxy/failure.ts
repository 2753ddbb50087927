// plugin/policies/proxy/failure.ts
// How a failed provider exchange is reported: its reason (the `upstream_errors_total` label) and
// what the client gets, which depends on how much of the answer it already has.

import type { ServerResponse } from 'node:http';
import { sendUpstreamFailure, type UpstreamFailureKind } from '../../http/error-verdict';
import { lastDetailEvent } from './event-stream';
import type { TimeoutReason } from './phase-timers';

export type FailureReason = 'refused' | 'reset' | 'dns' | 'other' | TimeoutReason;

const KIND_OF_REASON: Readonly<Record<FailureReason, UpstreamFailureKind>> = {
  refused: 'unreachable', reset: 'reset', dns: 'unreachable', other: 'unreachable',
  connect_timeout: 'timeout', first_byte_timeout: 'timeout', idle_timeout: 'timeout', total_timeout: 'timeout',
};

export function reasonOf(error: NodeJS.ErrnoException): FailureReason {
  switch (error.code) {
    case 'ECONNREFUSED': return 'refused';
    case 'ECONNRESET': case 'EPIPE': return 'reset';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'dns';
    default: return 'other';
  }
}

/**
 * Ends the client's answer after a provider failure. Nothing reached the client yet (no status
 * line committed, or an error answer the formatter still holds): the contract's JSON, as for any
 * provider failure. An event stream under way: a last `{"detail"}` event. A plain body that
 * stopped half way cannot be repaired: a reset tells the client so.
 */
export function endAfterFailure(res: ServerResponse, reason: FailureReason, eventStreamTail: Buffer | undefined): void {
  if (!res.headersSent) {
    sendUpstreamFailure(res, KIND_OF_REASON[reason]);
    return;
  }
  if (res.writableEnded) return;
  if (eventStreamTail !== undefined) {
    res.end(lastDetailEvent(eventStreamTail));
    return;
  }
  res.destroy();
}
