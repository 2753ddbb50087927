// plugin/eg/response-prototype.ts
// The error rewriter must see bodies other code writes in its own format (EG's core policies'
// `res.sendStatus(401)`, the provider's error bodies). Wrapping every response would cost each
// request; patching the prototype the app's responses share (Express's `app.response`) costs
// nothing for answers that are not rewritten. The patch calls the hooks first and Node's own
// method when a hook declines.

import type { ServerResponse } from 'node:http';

type WriteHead = (this: ServerResponse, statusCode: number, ...rest: unknown[]) => ServerResponse;
type Write = (this: ServerResponse, chunk: unknown, ...rest: unknown[]) => boolean;
type End = (this: ServerResponse, ...args: unknown[]) => ServerResponse;

interface ResponseHooks {
  /** Handles `writeHead`, returning true; false lets Node's run. */
  writeHead(res: ServerResponse, statusCode: number, rest: readonly unknown[]): boolean;
  /** Handles `write`, returning true; false lets Node's run. */
  write(res: ServerResponse, chunk: unknown, rest: readonly unknown[]): boolean;
  /** Handles `end`, returning true; false lets Node's run. */
  end(res: ServerResponse, args: readonly unknown[]): boolean;
}

const patched = new WeakSet<object>();

/** Patches the prototype `res` inherits from, once; `hooks` serve every response of that app. */
export function patchResponsePrototype(res: ServerResponse, hooks: ResponseHooks): void {
  const proto = Object.getPrototypeOf(res) as ServerResponse;
  if (patched.has(proto)) return;
  if (typeof proto.writeHead !== 'function' || typeof proto.write !== 'function' || typeof proto.end !== 'function') {
    throw new Error('the response prototype has no writeHead/write/end: Node\'s ServerResponse shape is not the expected one');
  }
  patched.add(proto);
  const originalWriteHead = proto.writeHead as WriteHead;
  const originalWrite = proto.write as Write;
  const originalEnd = proto.end as End;
  proto.writeHead = function writeHeadHooked(this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    return hooks.writeHead(this, statusCode, rest) ? this : originalWriteHead.call(this, statusCode, ...rest);
  } as typeof proto.writeHead;
  proto.write = function writeHooked(this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    return hooks.write(this, chunk, rest) ? true : originalWrite.call(this, chunk, ...rest);
  } as typeof proto.write;
  proto.end = function endHooked(this: ServerResponse, ...args: unknown[]) {
    return hooks.end(this, args) ? this : originalEnd.apply(this, args);
  } as typeof proto.end;
}
