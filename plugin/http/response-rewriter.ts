// plugin/http/response-rewriter.ts
// Rewrites error answers that other code writes in its own format, EG's core policies
// (`res.sendStatus(401)`, the core proxy's text 502, ...) and the provider's own error bodies,
// into the one `{"detail"}` body: through hooks on the app's response prototype
// (eg/response-prototype.ts), so answers that are not errors pay nothing.

import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { patchResponsePrototype } from '../eg/response-prototype';
import { knownExchange } from './exchange';
import { rewriteOptions } from './error-verdict';
import { collectBody, finishHeldAnswer, holdErrorAnswer } from './held-error-answer';

function applyHeaders(res: ServerResponse, headers: OutgoingHttpHeaders | string[]): void {
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) res.setHeader(String(headers[i]), String(headers[i + 1]));
    return;
  }
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value);
}

const HOOKS = {
  writeHead(res: ServerResponse, statusCode: number, rest: readonly unknown[]): boolean {
    const exchange = knownExchange(res);
    // Our own body is on its way (Node's end calls writeHead for its status line): let it through.
    if (exchange?.detailWritten === true) return false;
    if (exchange?.held !== undefined) return true;
    const options = rewriteOptions(exchange, statusCode);
    if (options === undefined) return false;
    for (const arg of rest) if (typeof arg === 'object' && arg !== null) applyHeaders(res, arg as OutgoingHttpHeaders | string[]);
    const held = holdErrorAnswer(res, statusCode, options);
    // A detail decided by the status alone needs no body: answer now rather than wait for it.
    if (held.detail !== undefined) finishHeldAnswer(res, held);
    return true;
  },

  write(res: ServerResponse, chunk: unknown, rest: readonly unknown[]): boolean {
    const held = knownExchange(res)?.held;
    if (held === undefined) return false;
    if (held.state === 'collecting') collectBody(held, chunk, rest[0]);
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (callback) process.nextTick(callback);
    // A body past the limit will not be read: answer now instead of waiting for its end.
    if (held.state === 'collecting' && held.bytes > held.limit) finishHeldAnswer(res, held);
    return true;
  },

  end(res: ServerResponse, args: readonly unknown[]): boolean {
    const exchange = knownExchange(res);
    let held = exchange?.held;
    if (held === undefined && !res.headersSent) {
      const options = rewriteOptions(exchange, res.statusCode);
      if (options !== undefined) held = holdErrorAnswer(res, res.statusCode, options);
    }
    // Nothing held, the detail body already written, or a failure answer (sendDetail) replacing
    // the provider's answer that was being held: Node's end writes it.
    if (held === undefined || held.state === 'done') return false;
    if (held.state === 'finishing') return true;
    if (exchange?.detailWritten === true) {
      held.state = 'done';
      return false;
    }
    collectBody(held, typeof args[0] === 'function' ? undefined : args[0], args[1]);
    finishHeldAnswer(res, held);
    return true;
  },
};

/** Installs the rewriter on the prototype `res` inherits from (once per app). */
export function ensureResponseRewriter(res: ServerResponse): void {
  patchResponsePrototype(res, HOOKS);
}
