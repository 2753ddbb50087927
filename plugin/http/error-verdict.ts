// plugin/http/error-verdict.ts
// Which status and detail the client gets for an error answer someone else wrote: EG's core
// policies and Express (their own text bodies), or the provider. A provider 401/403/407 means
// our provider key is wrong: the client can do nothing about it, and the provider's message may
// quote part of our key, so it becomes a 500 and nothing is passed on.

import type { ServerResponse } from 'node:http';
import { sendDetail } from '../errors';
import { logger } from '../logger';
import { MESSAGES, messageForStatus } from '../messages';
import { DEFAULTS, type DetailErrorFormatterOptions } from '../policies/detail-error-formatter/options';
import { knownExchange, type Exchange } from './exchange';

export type UpstreamFailureKind = 'unreachable' | 'timeout' | 'reset' | 'server-error' | 'misconfigured';

interface Verdict {
  readonly status: number;
  /** The detail decided by the status alone; undefined while it is to be read from the body. */
  readonly detail: string | undefined;
}

/** The formatter options that apply to `res`: its step's, or the defaults when none ran. */
function formatterOptions(exchange: Exchange | undefined): DetailErrorFormatterOptions {
  return exchange?.formatter ?? DEFAULTS;
}

/** The status a provider failure is reported with: 500 (the seed's promise), or 502/504 on request. */
function upstreamFailureStatus(res: ServerResponse, kind: UpstreamFailureKind): number {
  if (formatterOptions(knownExchange(res)).upstreamFailureStatus === 'internal-error') return 500;
  return kind === 'timeout' ? 504 : 502;
}

/** Answers a provider failure before anything of the answer reached the client. */
export function sendUpstreamFailure(res: ServerResponse, kind: UpstreamFailureKind): void {
  sendDetail(res, upstreamFailureStatus(res, kind), MESSAGES.internalError);
}

export function verdictFor(res: ServerResponse, status: number, fromProvider: boolean): Verdict {
  if (fromProvider) {
    if (status === 401 || status === 403 || status === 407) {
      logger.error({ providerStatus: status }, 'the LLM provider refused the gateway\'s credentials; check LLM_PROVIDER_API_KEY');
      return { status: upstreamFailureStatus(res, 'misconfigured'), detail: MESSAGES.internalError };
    }
    if (status >= 500) return { status: upstreamFailureStatus(res, 'server-error'), detail: MESSAGES.internalError };
    return { status, detail: undefined };
  }
  if (status === 502 || status === 503) return { status: upstreamFailureStatus(res, 'unreachable'), detail: MESSAGES.internalError };
  if (status === 504) return { status: upstreamFailureStatus(res, 'timeout'), detail: MESSAGES.internalError };
  if (status >= 500) return { status: 500, detail: MESSAGES.internalError };
  return { status, detail: messageForStatus(status) };
}

/**
 * The formatter options an error answer is rewritten with, or undefined to leave it alone: our own
 * `{"detail"}` bodies, and other code's in a pipeline without the formatter. The provider's errors
 * are always rewritten, so that its raw body, which may quote a secret, never reaches a client.
 */
export function rewriteOptions(exchange: Exchange | undefined, status: number): DetailErrorFormatterOptions | undefined {
  if (status < 400 || exchange?.detailWritten === true) return undefined;
  return exchange?.fromProvider === true ? formatterOptions(exchange) : exchange?.formatter;
}
