// plugin/errors.ts
// The one place that writes an error body. Everything the gateway refuses leaves as
// `application/json` `{"detail": "..."}`; the formatter recognises our bodies by the mark set here
// and rewrites everything else.

import type { ServerResponse } from 'node:http';
import { exchangeOf } from './http/exchange';
import { messageForStatus } from './messages';

/** An error a policy raises on purpose: its status and detail reach the client as they are. */
export class GatewayError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, detail: string, headers: Record<string, string> = {}) {
    super(detail);
    this.name = 'GatewayError';
    this.status = status;
    this.headers = Object.freeze({ ...headers });
  }
}

export function detailBody(detail: string): Buffer {
  return Buffer.from(JSON.stringify({ detail }));
}

/**
 * Ends `res` with `{"detail": detail}`. Headers already set on the response (Retry-After,
 * RateLimit, Allow) are kept; body headers are replaced. Does nothing if the response has
 * already started, since a second status line cannot be sent.
 */
export function sendDetail(
  res: ServerResponse,
  status: number,
  detail: string = messageForStatus(status),
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  const body = detailBody(detail);
  exchangeOf(res).detailWritten = true;
  res.removeHeader('content-encoding');
  res.removeHeader('transfer-encoding');
  res.removeHeader('etag');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', body.length);
  res.setHeader('cache-control', 'no-store');
  res.end(body);
}

/** Status and detail for any thrown value: ours keep theirs, Express's http-errors keep their 4xx. */
export function describeError(error: unknown): { status: number; detail: string; headers: Record<string, string> } {
  if (error instanceof GatewayError) return { status: error.status, detail: error.message, headers: { ...error.headers } };
  const status = statusOf(error);
  return { status, detail: messageForStatus(status), headers: {} };
}

function statusOf(error: unknown): number {
  if (typeof error === 'object' && error !== null) {
    const candidate = (error as { status?: unknown; statusCode?: unknown }).status
      ?? (error as { statusCode?: unknown }).statusCode;
    if (typeof candidate === 'number' && candidate >= 400 && candidate <= 599) return candidate;
  }
  return 500;
}
